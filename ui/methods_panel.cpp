#include "methods_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QDir>
#include <QScrollArea>
#include <QScrollBar>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSlider>
#include <QSpinBox>
#include <QVBoxLayout>

#include <algorithm>
#include <climits>
#include <cmath>

#include "app_context.h"
#include "apply_progress.h"
#include "ui_util.h"
#include "quant/w8a8_preset.h"

namespace {

QSlider* makeSlider(const char* name, int lo, int hi, int value, int step) {
    auto* s = new QSlider(Qt::Horizontal);
    s->setObjectName(name);
    s->setRange(lo, hi);
    s->setSingleStep(step);
    s->setPageStep(step * 5);
    s->setValue(value);
    return s;
}

QCheckBox* makeCheck(const QString& text, const char* name, const QString& tip = {}) {
    auto* c = new QCheckBox(text);
    c->setObjectName(name);
    if (!tip.isEmpty()) c->setToolTip(tip);
    return c;
}

QLabel* makeHint(const char* name) {
    auto* l = new QLabel;
    l->setObjectName(name);
    l->setWordWrap(true);
    l->setStyleSheet("QLabel { color:#23415f; background:#eef4fb; border:1px solid #b9cde4; padding:2px 4px; }");
    l->hide();
    return l;
}

QWidget* sliderRow(QSlider* s, QLabel* value) {
    auto* w = new QWidget;
    auto* h = new QHBoxLayout(w);
    h->setContentsMargins(0, 0, 0, 0);
    h->addWidget(s, 1);
    value->setMinimumWidth(40);
    value->setAlignment(Qt::AlignRight | Qt::AlignVCenter);
    h->addWidget(value);
    return w;
}

}  // namespace

MethodsPanel::MethodsPanel(AppContext* ctx, QWidget* parent) : QWidget(parent), ctx_(ctx) {
    setObjectName("methodsPanel");
    auto* outer = new QVBoxLayout(this);
    outer->setContentsMargins(0, 0, 0, 0);
    outer->setSpacing(0);
    QWidget* controls = buildControls();
    auto* scroll = new QScrollArea;
    scroll->setObjectName("methodsScroll");
    scroll->setWidget(controls);
    scroll->setWidgetResizable(true);
    scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    scroll->setFrameShape(QFrame::NoFrame);
    scroll->setMinimumWidth(controls->minimumSizeHint().width() + scroll->verticalScrollBar()->sizeHint().width());
    outer->addWidget(scroll, 1);
    outer->addWidget(buildFooter());
    connectControls();
    updateEnabled();
    updateAppliedLabel();
    updateHints();
}

QWidget* MethodsPanel::buildControls() {
    auto* w = new QWidget;
    auto* v = new QVBoxLayout(w);
    v->setContentsMargins(6, 6, 6, 6);

    // Weights (RTN)
    auto* wBox = new QGroupBox("Weight quantization (RTN)");
    auto* wf = new QFormLayout(wBox);
    bits_ = new QComboBox;
    bits_->setObjectName("bitsCombo");
    bits_->addItem("off (float)", 0);
    for (int b : {2, 3, 4, 5, 6, 8}) bits_->addItem(QString("%1 bits").arg(b), b);
    bits_->setCurrentIndex(bits_->findData(4));
    group_ = new QComboBox;
    group_->setObjectName("groupCombo");
    for (int g : {32, 64, 128, 256}) group_->addItem(QString("group %1").arg(g), g);
    group_->addItem("per channel", -1);
    group_->addItem("per tensor", -2);
    group_->setCurrentIndex(group_->findData(128));
    symmetric_ = makeCheck("symmetric (absmax, zero 0)", "symmetricCheck");
    lmHead_ = makeCheck("also quantize lm_head", "lmHeadCheck");
    fp16Scales_ = makeCheck("fp16 scales (as AutoAWQ stores them)", "fp16ScalesCheck",
                            "Round each scale to fp16 before the codes are computed: an AWQ GEMM export "
                            "then reloads to exactly this model");
    wf->addRow("Bits", bits_);
    wf->addRow("Granularity", group_);
    wf->addRow(symmetric_);
    wf->addRow(lmHead_);
    wf->addRow(fp16Scales_);
    v->addWidget(wBox);

    // AWQ
    awqBox_ = new QGroupBox("AWQ / GPTQ");
    auto* af = new QFormLayout(awqBox_);
    awqMode_ = new QComboBox;
    awqMode_->setObjectName("awqModeCombo");
    awqMode_->addItem("off", "");
    awqMode_->addItem("keep salient in fp", "awq-keep");
    awqMode_->addItem("scale salient", "awq-scale");
    awqMode_->addItem("auto-scale search", "awq");
    awqMode_->addItem("GPTQ", "gptq");
    awqMode_->setItemData(awqMode_->count() - 1, "GPTQ instead of RTN (IST-DASLab algorithm; calibration set below)",
                          Qt::ToolTipRole);
    salient_ = new QDoubleSpinBox;
    salient_->setObjectName("salientSpin");
    salient_->setRange(0.1, 20.0);
    salient_->setSingleStep(0.5);
    salient_->setDecimals(1);
    salient_->setSuffix(" % of channels");
    salient_->setValue(1.0);
    awqFactor_ = makeSlider("awqFactorSlider", 100, 400, 200, 5);
    awqFactorLabel_ = new QLabel("×2.00");
    awqFactorLabel_->setObjectName("awqFactorValue");
    awqClip_ = makeCheck("auto-clip", "awqClipCheck");
    duo_ = makeCheck("duo scaling (AutoAWQ)", "duoScalingCheck");
    actOrder_ = makeCheck("GPTQ act-order", "gptqActOrderCheck");
    auto* autoRow = new QWidget;
    auto* ar = new QHBoxLayout(autoRow);
    ar->setContentsMargins(0, 0, 0, 0);
    ar->addWidget(awqClip_);
    ar->addWidget(duo_);
    ar->addStretch(1);
    af->addRow("Mode", awqMode_);
    af->addRow("Salient", salient_);
    af->addRow("Scale factor", sliderRow(awqFactor_, awqFactorLabel_));
    af->addRow(autoRow);
    af->addRow(actOrder_);
    v->addWidget(awqBox_);

    // SmoothQuant / W8A8
    sqBox_ = new QGroupBox("SmoothQuant / W8A8");
    auto* sf = new QFormLayout(sqBox_);
    sqOn_ = makeCheck("smooth activations into weights", "smoothQuantCheck");
    sqAlpha_ = makeSlider("sqAlphaSlider", 0, 100, 50, 5);
    sqAlphaLabel_ = new QLabel("0.50");
    sqAlphaLabel_->setObjectName("sqAlphaValue");
    act_ = new QComboBox;
    act_->setObjectName("actCombo");
    act_->addItem("float (not quantized)", 0);
    act_->addItem("8-bit per token", 8);
    act_->addItem("8-bit per tensor", -8);
    act_->addItem("4-bit per token", 4);
    bmm_ = makeCheck("also quantize q/k/v outputs (BMM)", "bmmCheck");
    w8a8_ = new QPushButton("W8A8 SmoothQuant preset");
    w8a8_->setObjectName("w8a8Button");
    w8a8_->setToolTip(
        "SmoothQuant's W8A8 setting, every control it implies: smoothing on at alpha 0.5, 8-bit "
        "symmetric per-channel weights, 8-bit per-token activations with the q/k/v outputs (BMM "
        "inputs) quantized; AWQ and rotation off, lm_head in float");
    sqHint_ = makeHint("smoothQuantHint");
    sf->addRow(sqOn_);
    sf->addRow("Alpha", sliderRow(sqAlpha_, sqAlphaLabel_));
    sf->addRow("Activations", act_);
    sf->addRow(bmm_);
    sf->addRow(w8a8_);
    sf->addRow(sqHint_);
    v->addWidget(sqBox_);

    // Rotation
    auto* rBox = new QGroupBox("Rotation (QuaRot)");
    auto* rf = new QFormLayout(rBox);
    rotation_ = new QComboBox;
    rotation_->setObjectName("rotationCombo");
    rotation_->addItem("off", -1);
    rotation_->addItem("random orthogonal", static_cast<int>(qs::RotationKind::Random));
    rotation_->addItem("randomized Hadamard", static_cast<int>(qs::RotationKind::Hadamard));
    rotation_->addItem("plain Hadamard", static_cast<int>(qs::RotationKind::PlainHadamard));
    seed_ = new QSpinBox;
    seed_->setObjectName("rotationSeed");
    seed_->setRange(0, 1000000);
    rotHint_ = makeHint("rotationHint");
    rf->addRow("Rotation", rotation_);
    rf->addRow("Seed", seed_);
    rf->addRow(rotHint_);
    v->addWidget(rBox);

    // Calibration
    auto* cBox = new QGroupBox("Calibration set");
    auto* cf = new QFormLayout(cBox);
    calibSamples_ = new QSpinBox;
    calibSamples_->setObjectName("calibSamples");
    calibSamples_->setRange(1, 4096);
    calibSamples_->setValue(128);
    calibSeqlen_ = new QSpinBox;
    calibSeqlen_->setObjectName("calibSeqlen");
    calibSeqlen_->setRange(16, 8192);
    calibSeqlen_->setSingleStep(64);
    calibSeqlen_->setValue(512);
    calibFile_ = new QLabel("bundled (tinyshakespeare)");
    calibFile_->setObjectName("calibFile");
    calibFile_->setWordWrap(true);
    choose_ = new QPushButton("Choose…");
    choose_->setObjectName("calibChooseButton");
    deflt_ = new QPushButton("Default");
    deflt_->setObjectName("calibDefaultButton");
    auto* fileRow = new QWidget;
    auto* fr = new QHBoxLayout(fileRow);
    fr->setContentsMargins(0, 0, 0, 0);
    fr->addWidget(choose_);
    fr->addWidget(deflt_);
    fr->addStretch(1);
    cf->addRow("Samples", calibSamples_);
    cf->addRow("Tokens each", calibSeqlen_);
    cf->addRow("File", calibFile_);
    cf->addRow(fileRow);
    v->addWidget(cBox);
    v->addStretch(1);
    return w;
}

// Pinned under the scrolling controls: always on screen.
QWidget* MethodsPanel::buildFooter() {
    auto* w = new QWidget;
    w->setObjectName("methodsFooter");
    auto* v = new QVBoxLayout(w);
    v->setContentsMargins(6, 4, 6, 6);
    auto* buttons = new QHBoxLayout;
    apply_ = new QPushButton("Apply to model");
    apply_->setObjectName("applyButton");
    apply_->setToolTip("Run the whole-model methods (AWQ search, SmoothQuant, rotation) on every Linear");
    reset_ = new QPushButton("Original weights");
    reset_->setObjectName("resetButton");
    buttons->addWidget(apply_, 1);
    buttons->addWidget(reset_);
    v->addLayout(buttons);
    applied_ = new QLabel;
    applied_->setObjectName("appliedLabel");
    applied_->setWordWrap(true);
    applied_->setTextFormat(Qt::RichText);
    v->addWidget(applied_);
    v->addWidget(new ApplyProgress(ctx_));
    return w;
}

void MethodsPanel::connectControls() {
    auto change = [this] { emitChange(); };
    for (QComboBox* c : {bits_, group_, awqMode_, act_, rotation_})
        connect(c, qOverload<int>(&QComboBox::currentIndexChanged), this, change);
    for (QCheckBox* c : {symmetric_, lmHead_, fp16Scales_, awqClip_, duo_, actOrder_, sqOn_, bmm_})
        connect(c, &QCheckBox::toggled, this, change);
    connect(salient_, qOverload<double>(&QDoubleSpinBox::valueChanged), this, change);
    connect(seed_, qOverload<int>(&QSpinBox::valueChanged), this, change);
    connect(calibSamples_, qOverload<int>(&QSpinBox::valueChanged), this, change);
    connect(calibSeqlen_, qOverload<int>(&QSpinBox::valueChanged), this, change);
    connect(awqFactor_, &QSlider::valueChanged, this, [this](int x) {
        awqFactorLabel_->setText(QString("×%1").arg(factorFromSlider(x), 0, 'f', 2));
        emitChange();
    });
    connect(sqAlpha_, &QSlider::valueChanged, this, [this](int x) {
        sqAlphaLabel_->setText(QString::number(alphaFromSlider(x), 'f', 2));
        emitChange();
    });
    connect(w8a8_, &QPushButton::clicked, this, &MethodsPanel::applyW8A8Preset);
    connect(choose_, &QPushButton::clicked, this, [this] {
        // Start in the model's folder (calibration texts often sit next to it), else home.
        QString dir = QDir::homePath();
        if (const auto* s = ctx_->summary(); s && QFileInfo(ui::qstr(s->source_dir)).isDir())
            dir = ui::qstr(s->source_dir);
        QString f = ctx_->choosers().openFile(this, "Calibration text", dir,
                                              "Text or JSON lines (*.txt *.jsonl *.zst);;All files (*)");
        if (f.isEmpty()) return;
        calibPath_ = f;
        calibFile_->setText(QFileInfo(f).fileName());
        emitChange();
    });
    connect(deflt_, &QPushButton::clicked, this, [this] {
        calibPath_.clear();
        calibFile_->setText("bundled (tinyshakespeare)");
        emitChange();
    });
    connect(apply_, &QPushButton::clicked, ctx_, &AppContext::applyConfig);
    connect(reset_, &QPushButton::clicked, ctx_, &AppContext::resetToOriginal);
    connect(ctx_, &AppContext::appliedChanged, this, &MethodsPanel::updateAppliedLabel);
    connect(ctx_, &AppContext::configChanged, this, &MethodsPanel::updateAppliedLabel);
    connect(ctx_, &AppContext::modelChanged, this, [this] {
        if (const auto* s = ctx_->summary())
            calibSeqlen_->setMaximum(static_cast<int>(std::max<int64_t>(16, s->max_position_embeddings)));
        // The context may have adapted the calibration size to the model (and says why).
        updating_ = true;
        calibSamples_->setValue(static_cast<int>(ctx_->config().calib_samples));
        updating_ = false;
        calibSamples_->setToolTip(ctx_->calibrationNote().isEmpty() ? QString("Calibration blocks (llm-awq uses 128)")
                                                                    : ctx_->calibrationNote());
        updateAppliedLabel();
    });
    connect(ctx_, &AppContext::applyStarted, this, [this] {
        apply_->setEnabled(false);
        reset_->setEnabled(false);
        applied_->setText("<i>Applying…</i>");
    });
    connect(ctx_, &AppContext::jobsChanged, this, &MethodsPanel::updateAppliedLabel);
    connect(ctx_, &AppContext::layerChanged, this, &MethodsPanel::updateHints);
    connect(ctx_, &AppContext::appliedChanged, this, &MethodsPanel::updateHints);
    connect(ctx_, &AppContext::configChanged, this, &MethodsPanel::updateHints);
    connect(ctx_, &AppContext::configChanged, this, [this] {
        if (!updating_) overrides_ = ctx_->config().overrides;  // set on the Model page
    });
    connect(ctx_, &AppContext::modelChanged, this, &MethodsPanel::updateHints);
}

// Every control the W8A8 SmoothQuant setting implies (whatever the panel showed before).
void MethodsPanel::applyW8A8Preset() {
    qs::MethodConfig c = config();       // keeps what the preset does not name (calibration, fp16 scales, ...)
    c.methods = {"smoothquant", "rtn"};  // no AWQ/GPTQ, no rotation
    c.sq_alpha = 0.5;
    qs::set_w8a8(c);
    c.act.quantize_bmm = true;
    c.include_lm_head = false;
    setConfig(c);
}

// Why a control changes nothing for the selected Linear.
void MethodsPanel::updateHints() {
    const qs::MethodConfig& c = ctx_->config();
    const std::string layer = ctx_->layer().toStdString();
    if (c.has("smoothquant") && !layer.empty() && !ui::readsNorm(layer)) {
        sqHint_->setText(
            QString("Alpha has no effect on %1: SmoothQuant only smooths Linears that read a norm's output "
                    "(q/k/v, gate/up, fc1), folding 1/s into the norm. Select one of those to see it.")
                .arg(ui::short_linear_name(layer)));
        sqHint_->show();
    } else if (c.has("smoothquant")) {
        sqHint_->setText(
            "Inputs are divided by s = max|x|^α / max|w|^(1−α) per channel and the weights multiplied by "
            "it: channels with s < 1 grow.");
        sqHint_->show();
    } else {
        sqHint_->hide();
    }
    const qs::MethodConfig& a = ctx_->applied();
    if (c.has("rotate")) {
        const bool carried = a.has("rotate") && a.rotation == c.rotation && a.seed == c.seed;
        rotHint_->setText(carried ? "The model carries this rotation: the layer views show the rotated weights (norms "
                                    "fused into the Linears, residual stream rotated)."
                                  : "A rotation acts on the whole model (norms are fused into the Linears, then the "
                                    "residual stream is rotated): Apply to see it; until then the layer views show the "
                                    "unrotated weights.");
        rotHint_->show();
    } else {
        rotHint_->hide();
    }
}

qs::MethodConfig MethodsPanel::config() const {
    qs::MethodConfig c = AppContext::defaultConfig();
    c.methods.clear();
    const int bits = bits_->currentData().toInt();
    const int group = group_->currentData().toInt();
    const int rot = rotation_->currentData().toInt();
    const QString awq = awqMode_->currentData().toString();
    if (rot >= 0) c.methods.push_back("rotate");
    if (bits > 0) {
        if (sqOn_->isChecked()) c.methods.push_back("smoothquant");
        if (!awq.isEmpty()) c.methods.push_back(awq.toStdString());
        if (awq.isEmpty() || awq == "awq") c.methods.push_back("rtn");
        c.gptq_act_order = awq == "gptq" && actOrder_->isChecked();
    }
    c.methods = qs::parse_methods(c.methods);  // canonical order
    c.weight.bits = bits > 0 ? bits : 4;
    if (group > 0) {
        c.weight.granularity = qs::Granularity::PerGroup;
        c.weight.group_size = group;
    } else {
        c.weight.granularity = group == -1 ? qs::Granularity::PerChannel : qs::Granularity::PerTensor;
        c.weight.group_size = 128;
    }
    c.weight.symmetric = symmetric_->isChecked();
    c.include_lm_head = lmHead_->isChecked();
    c.weight.fp16_scales = fp16Scales_->isChecked();
    c.awq_salient = salient_->value() / 100.0;
    c.awq_factor = factorFromSlider(awqFactor_->value());
    c.awq_clip = awqClip_->isChecked();
    c.duo_scaling = duo_->isChecked();
    c.sq_alpha = alphaFromSlider(sqAlpha_->value());
    const int act = act_->currentData().toInt();
    c.act.bits = std::abs(act);
    c.act.per_token = act >= 0;
    c.act.quantize_bmm = act != 0 && bmm_->isChecked();
    if (rot >= 0) c.rotation = static_cast<qs::RotationKind>(rot);
    c.seed = static_cast<uint64_t>(seed_->value());
    c.calib_path = calibPath_.toStdString();
    c.calib_samples = calibSamples_->value();
    c.calib_seqlen = calibSeqlen_->value();
    c.overrides = overrides_;
    return c;
}

void MethodsPanel::setConfig(const qs::MethodConfig& c) {
    updating_ = true;
    overrides_ = c.overrides;
    const bool weights = c.quantizes_weights();
    // Values outside the controls' usual choices widen them instead of being clamped (a
    // workspace or the CLI may hold any value MethodConfig::validate() accepts).
    if (weights && bits_->findData(c.weight.bits) < 0)
        bits_->addItem(QString("%1 bits").arg(c.weight.bits), c.weight.bits);
    const double salient = c.awq_salient * 100;
    if (salient < salient_->minimum()) salient_->setMinimum(salient);
    if (salient > salient_->maximum()) salient_->setMaximum(salient);
    while (salient_->decimals() < 6 && std::abs(std::round(salient * std::pow(10, salient_->decimals())) -
                                                salient * std::pow(10, salient_->decimals())) > 1e-6)
        salient_->setDecimals(salient_->decimals() + 1);
    const int factor = static_cast<int>(std::lround(c.awq_factor * 100));
    if (factor < awqFactor_->minimum()) awqFactor_->setMinimum(factor);
    if (factor > awqFactor_->maximum()) awqFactor_->setMaximum(factor);
    const int act = c.act.bits == 0 ? 0 : c.act.per_token ? c.act.bits : -c.act.bits;
    if (act_->findData(act) < 0)
        act_->addItem(QString("%1-bit per %2").arg(c.act.bits).arg(c.act.per_token ? "token" : "tensor"), act);
    if (c.seed <= static_cast<uint64_t>(INT_MAX) && static_cast<int>(c.seed) > seed_->maximum())
        seed_->setMaximum(static_cast<int>(c.seed));
    if (c.calib_samples <= INT_MAX && c.calib_samples > calibSamples_->maximum())
        calibSamples_->setMaximum(static_cast<int>(c.calib_samples));
    bits_->setCurrentIndex(bits_->findData(weights ? c.weight.bits : 0));
    const int g = c.weight.granularity == qs::Granularity::PerGroup     ? static_cast<int>(c.weight.group_size)
                  : c.weight.granularity == qs::Granularity::PerChannel ? -1
                                                                        : -2;
    if (group_->findData(g) < 0) group_->addItem(QString("group %1").arg(g), g);
    group_->setCurrentIndex(group_->findData(g));
    symmetric_->setChecked(c.weight.symmetric);
    lmHead_->setChecked(c.include_lm_head);
    fp16Scales_->setChecked(c.weight.fp16_scales);
    awqMode_->setCurrentIndex(c.has("gptq")        ? 4
                              : c.has("awq")       ? 3
                              : c.has("awq-scale") ? 2
                              : c.has("awq-keep")  ? 1
                                                   : 0);
    actOrder_->setChecked(c.gptq_act_order);
    salient_->setValue(c.awq_salient * 100);
    awqFactor_->setValue(static_cast<int>(std::lround(c.awq_factor * 100)));
    awqClip_->setChecked(c.awq_clip);
    duo_->setChecked(c.duo_scaling);
    sqOn_->setChecked(c.has("smoothquant"));
    sqAlpha_->setValue(static_cast<int>(std::lround(c.sq_alpha * 100)));
    act_->setCurrentIndex(act_->findData(act));
    bmm_->setChecked(c.act.quantize_bmm);
    rotation_->setCurrentIndex(c.has("rotate") ? rotation_->findData(static_cast<int>(c.rotation)) : 0);
    seed_->setValue(static_cast<int>(c.seed));
    calibSamples_->setValue(static_cast<int>(c.calib_samples));
    calibSeqlen_->setValue(static_cast<int>(c.calib_seqlen));
    calibPath_ = QString::fromStdString(c.calib_path);
    updating_ = false;
    emitChange();
}

void MethodsPanel::emitChange() {
    if (updating_) return;
    updateEnabled();
    ctx_->setConfig(config());
}

void MethodsPanel::updateEnabled() {
    const bool weights = bits_->currentData().toInt() > 0;
    const int group = group_->currentData().toInt();
    group_->setEnabled(weights);
    symmetric_->setEnabled(weights);
    lmHead_->setEnabled(weights);
    fp16Scales_->setEnabled(weights);
    awqBox_->setEnabled(weights);
    const QString awq = awqMode_->currentData().toString();
    salient_->setEnabled(awq == "awq-keep" || awq == "awq-scale");
    awqFactor_->setEnabled(awq == "awq-scale");
    awqClip_->setEnabled(awq == "awq");
    duo_->setEnabled(awq == "awq");
    actOrder_->setEnabled(awq == "gptq");
    sqOn_->setEnabled(weights);
    sqAlpha_->setEnabled(weights && sqOn_->isChecked());
    bmm_->setEnabled(act_->currentData().toInt() != 0);
    const int rotKind = rotation_->currentData().toInt();
    seed_->setEnabled(rotKind >= 0 && rotKind != static_cast<int>(qs::RotationKind::PlainHadamard));
    Q_UNUSED(group);
}

void MethodsPanel::updateAppliedLabel() {
    const bool busy = ctx_->modelBusy();
    const bool same = ctx_->configApplied();
    apply_->setEnabled(ctx_->hasModel() && !busy && !same);
    reset_->setEnabled(ctx_->hasModel() && !busy && !ctx_->applied().methods.empty());
    if (ctx_->jobs()->busy("apply")) return;
    if (!ctx_->hasModel()) {
        applied_->setText("<i>No model loaded.</i>");
        return;
    }
    QString text = "<b>Model carries:</b> " + ui::qstr(ctx_->applied().describe()).toHtmlEscaped();
    if (ctx_->hasUnappliedChanges())
        text +=
            "<br><span style='color:#a05a00'>The panel has changes that are not applied: the selected "
            "layer's views show them; Apply (or Run perplexity) for the whole model.</span>";
    else if (!same)
        text += "<br><span style='color:#555'>Panel: " + ui::qstr(ctx_->config().describe()).toHtmlEscaped() +
                ", previewed on the selected layer; Apply quantizes the whole model.</span>";
    applied_->setText(text);
}
