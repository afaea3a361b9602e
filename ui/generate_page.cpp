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

#include "app_context.h"
#include "ui_util.h"

using ui::qstr;

GeneratePage::GeneratePage(AppContext* ctx, QWidget* parent) : QWidget(parent), ctx_(ctx) {
    setObjectName("generatePage");
    auto* v = new QVBoxLayout(this);
    v->setContentsMargins(4, 4, 4, 4);
    prompt_ = new QPlainTextEdit("Once upon a time, there was a little girl named Lily.");
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
    auto* grid = new QGridLayout;
    originalTitle_ = new QLabel("<b>Original model</b>");
    currentTitle_ = new QLabel("<b>Current model</b>");
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

    auto updateTitles = [this] {
        currentTitle_->setText("<b>Current model:</b> " + qstr(ctx_->applied().describe()).toHtmlEscaped() +
                               (ctx_->configApplied() ? QString()
                                                      : QString(" <span style='color:#a05a00'>(the panel's changes are "
                                                                "not applied)</span>")));
        if (const auto* s = ctx_->summary()) originalTitle_->setText("<b>Original model</b> (" + qstr(s->dtype) + ")");
    };
    connect(ctx_, &AppContext::appliedChanged, this, updateTitles);
    connect(ctx_, &AppContext::configChanged, this, updateTitles);
    connect(ctx_, &AppContext::modelChanged, this, updateTitles);
    connect(mode_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] {
        temperature_->setEnabled(mode_->currentData().toBool());
        seed_->setEnabled(mode_->currentData().toBool());
    });
    temperature_->setEnabled(false);
    seed_->setEnabled(false);
    connect(go_, &QPushButton::clicked, this, &GeneratePage::generate);
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
    ctx_->run("generate", [this, wb, prompt, n, sample, temp, seed](const qs::Progress& p) -> std::function<void()> {
        GenerateData a = wb->generate(prompt, n, sample, temp, seed, true, p.sub(0, 0.5));
        GenerateData b = wb->generate(prompt, n, sample, temp, seed, false, p.sub(0.5, 1));
        return [this, wb, a, b] {
            if (wb != ctx_->workbench()) return;
            original_->setPlainText(qstr(a.text));
            current_->setPlainText(qstr(b.text));
            emit generated();
        };
    });
}
