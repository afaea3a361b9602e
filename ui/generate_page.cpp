#include "generate_page.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QTextBrowser>
#include <QVBoxLayout>

#include <algorithm>

#include "app_context.h"
#include "ui_util.h"

using ui::qstr;

namespace {

// The first new token where the two continuations differ (their common length when one is a
// prefix of the other).
size_t firstDifference(const GenerateData& a, const GenerateData& b) {
    size_t i = 0;
    while (i < a.ids.size() && i < b.ids.size() && a.ids[i] == b.ids[i]) ++i;
    return i;
}

// prompt + continuation as HTML, the token at `mark` highlighted (none when mark is past the end).
QString markedHtml(const QString& prompt, const GenerateData& d, size_t mark) {
    QString joined;
    for (const auto& p : d.pieces) joined += qstr(p);
    const QString text = qstr(d.text);
    if (prompt + joined != text || mark >= d.pieces.size()) {  // no per-token text: plain
        return "<div style='white-space:pre-wrap'>" + text.toHtmlEscaped() + "</div>";
    }
    QString h = "<div style='white-space:pre-wrap'>" + prompt.toHtmlEscaped();
    for (size_t i = 0; i < d.pieces.size(); ++i) {
        const QString piece = qstr(d.pieces[i]).toHtmlEscaped();
        if (i == mark)
            h += "<span style='background-color:#ffd54f' title='first token that differs'>" + piece + "</span>";
        else
            h += piece;
    }
    return h + "</div>";
}

QString tokensText(const GenerateData& d) {
    if (d.ids.empty()) return "no new tokens";
    return QString("%1 new token%2").arg(d.ids.size()).arg(d.ids.size() == 1 ? "" : "s");
}

}  // namespace

GeneratePage::GeneratePage(AppContext* ctx, QWidget* parent) : QWidget(parent), ctx_(ctx) {
    setObjectName("generatePage");
    auto* v = new QVBoxLayout(this);
    v->setContentsMargins(4, 4, 4, 4);
    // The bundled TinyStories model ends a story after a finished sentence ("…named Lily."
    // gave only <|end_story|>): the default prompt leaves the sentence open.
    prompt_ = new QPlainTextEdit("Once upon a time");
    prompt_->setObjectName("promptEdit");
    prompt_->setMaximumHeight(90);
    v->addWidget(new QLabel("Prompt"));
    v->addWidget(prompt_);
    auto* bar = new QHBoxLayout;
    mode_ = new QComboBox;
    mode_->setObjectName("decodeMode");
    mode_->addItem("greedy", false);
    mode_->addItem("sampled", true);
    temperature_ = new QDoubleSpinBox;
    temperature_->setObjectName("temperatureSpin");
    temperature_->setRange(0.05, 2.0);
    temperature_->setSingleStep(0.05);
    temperature_->setValue(0.8);
    seed_ = new QSpinBox;
    seed_->setObjectName("sampleSeed");
    seed_->setRange(0, 1000000);
    tokens_ = new QSpinBox;
    tokens_->setObjectName("maxTokens");
    tokens_->setRange(1, 2048);
    tokens_->setValue(80);
    go_ = new QPushButton("Generate");
    go_->setObjectName("generateButton");
    bar->addWidget(new QLabel("Decoding"));
    bar->addWidget(mode_);
    bar->addWidget(new QLabel("temperature"));
    bar->addWidget(temperature_);
    bar->addWidget(new QLabel("seed"));
    bar->addWidget(seed_);
    bar->addWidget(new QLabel("new tokens"));
    bar->addWidget(tokens_);
    bar->addStretch(1);
    bar->addWidget(go_);
    v->addLayout(bar);
    divergence_ = new QLabel;
    divergence_->setObjectName("divergenceInfo");
    divergence_->setWordWrap(true);
    divergence_->setStyleSheet("color:#555");
    v->addWidget(divergence_);
    auto* grid = new QGridLayout;
    originalTitle_ = new QLabel("<b>Original model</b>");
    originalTitle_->setObjectName("originalTitle");
    originalTitle_->setWordWrap(true);
    currentTitle_ = new QLabel("<b>Current model</b>");
    currentTitle_->setObjectName("currentTitle");
    currentTitle_->setWordWrap(true);
    original_ = new QTextBrowser;
    original_->setObjectName("originalOutput");
    current_ = new QTextBrowser;
    current_->setObjectName("currentOutput");
    for (QTextBrowser* b : {original_, current_}) {
        QFont f = b->font();
        f.setPointSize(f.pointSize() + 2);
        b->setFont(f);
    }
    grid->addWidget(originalTitle_, 0, 0);
    grid->addWidget(currentTitle_, 0, 1);
    grid->addWidget(original_, 1, 0);
    grid->addWidget(current_, 1, 1);
    v->addLayout(grid, 1);

    connect(ctx_, &AppContext::appliedChanged, this, &GeneratePage::updateTitles);
    connect(ctx_, &AppContext::configChanged, this, &GeneratePage::updateTitles);
    connect(ctx_, &AppContext::modelChanged, this, &GeneratePage::updateTitles);
    connect(mode_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] {
        temperature_->setEnabled(mode_->currentData().toBool());
        seed_->setEnabled(mode_->currentData().toBool());
    });
    temperature_->setEnabled(false);
    seed_->setEnabled(false);
    connect(go_, &QPushButton::clicked, this, &GeneratePage::generate);
}

void GeneratePage::updateTitles() {
    QString current = "<b>Current model:</b> " + qstr(ctx_->applied().describe()).toHtmlEscaped();
    if (ctx_->hasUnappliedChanges())
        current += " <span style='color:#a05a00'>(the panel's changes are not applied)</span>";
    QString original = "<b>Original model</b>";
    if (const auto* s = ctx_->summary()) original += " (" + qstr(s->dtype) + ")";
    if (!originalCount_.isEmpty()) original += " · " + originalCount_;
    if (!currentCount_.isEmpty()) current += " · " + currentCount_;
    originalTitle_->setText(original);
    currentTitle_->setText(current);
}

void GeneratePage::generate() {
    if (!ctx_->hasModel()) return;
    auto wb = ctx_->workbench();
    const std::string prompt = prompt_->toPlainText().toStdString();
    const int64_t n = tokens_->value();
    const bool sample = mode_->currentData().toBool();
    const double temp = temperature_->value();
    const uint64_t seed = static_cast<uint64_t>(seed_->value());
    original_->setPlainText("…");
    current_->setPlainText("…");
    divergence_->clear();
    originalCount_.clear();
    currentCount_.clear();
    updateTitles();
    ctx_->run("generate", [this, wb, prompt, n, sample, temp, seed](const qs::Progress& p) -> std::function<void()> {
        GenerateData a = wb->generate(prompt, n, sample, temp, seed, true, p.sub(0, 0.5));
        GenerateData b = wb->generate(prompt, n, sample, temp, seed, false, p.sub(0.5, 1));
        return [this, wb, a, b, prompt] {
            if (wb != ctx_->workbench()) return;
            const size_t first = firstDifference(a, b);
            const QString pr = qstr(prompt);
            original_->setHtml(markedHtml(pr, a, first));
            current_->setHtml(markedHtml(pr, b, first));
            originalCount_ = tokensText(a);
            currentCount_ = tokensText(b);
            updateTitles();
            if (first < a.ids.size() || first < b.ids.size())
                divergence_->setText(
                    QString("The continuations are the same for %1 token%2 and differ from token %3 on "
                            "(marked).")
                        .arg(first)
                        .arg(first == 1 ? "" : "s")
                        .arg(first + 1));
            else
                divergence_->setText(QString("Both models wrote the same %1.").arg(tokensText(a)));
            emit generated();
        };
    });
}
