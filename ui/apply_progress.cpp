#include "apply_progress.h"

#include <QGridLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>

#include "app_context.h"
#include "ui_util.h"

ApplyProgress::ApplyProgress(AppContext* ctx, QWidget* parent) : QWidget(parent), ctx_(ctx) {
    setObjectName("applyProgress");
    auto* g = new QGridLayout(this);
    g->setContentsMargins(0, 4, 0, 0);
    state_ = new QLabel;
    state_->setObjectName("applyState");
    state_->setWordWrap(true);
    bar_ = new QProgressBar;
    bar_->setObjectName("applyBar");
    bar_->setRange(0, 1000);
    bar_->setTextVisible(true);
    eta_ = new QLabel;
    eta_->setObjectName("applyEta");
    eta_->setStyleSheet("color:#555");
    cancel_ = new QPushButton("Cancel");
    cancel_->setObjectName("applyCancel");
    g->addWidget(state_, 0, 0, 1, 2);
    g->addWidget(bar_, 1, 0);
    g->addWidget(cancel_, 1, 1);
    g->addWidget(eta_, 2, 0, 1, 2);
    hide();

    connect(cancel_, &QPushButton::clicked, this, [this] {
        ctx_->jobs()->cancel("apply");
        state_->setText("Cancelling…");
    });
    connect(ctx_, &AppContext::applyStarted, this, &ApplyProgress::started);
    connect(ctx_, &AppContext::jobProgress, this, [this](const QString& ch, double f, const QString& m) {
        if (ch == "apply") progressed(f, m);
    });
    connect(ctx_, &AppContext::awqGroupSearched, this, [this] { progressed(fraction_, QString()); });
    connect(ctx_->jobs(), &JobRunner::finished, this, [this](const QString& ch, quint64) {
        if (ch == "apply") hide();
    });
    connect(ctx_->jobs(), &JobRunner::cancelled, this, [this](const QString& ch, quint64) {
        if (ch == "apply") stopped(QString("Cancelled at %1 %").arg(static_cast<int>(fraction_ * 100)));
    });
    connect(ctx_->jobs(), &JobRunner::failed, this, [this](const QString& ch, quint64, const QString&) {
        if (ch == "apply") hide();  // the error banner says why
    });
    connect(ctx_, &AppContext::configChanged, this, [this] {
        if (!ctx_->jobs()->busy("apply")) hide();
    });
}

void ApplyProgress::started() {
    clock_.start();
    fraction_ = 0;
    const qs::MethodConfig& c = ctx_->config();
    state_->setText(c.has("awq") ? "Applying: AWQ auto-scale searches every block (loss curves appear on the AWQ "
                                   "search page as groups finish)"
                                 : "Applying…");
    bar_->setValue(0);
    bar_->show();
    cancel_->show();
    cancel_->setEnabled(true);
    eta_->setText("ETA …");
    show();
}

void ApplyProgress::progressed(double fraction, const QString& message) {
    fraction_ = fraction;
    bar_->setValue(static_cast<int>(fraction * 1000));
    if (!message.isEmpty()) bar_->setFormat(message + " · %p%");
    const double elapsed = clock_.elapsed() / 1000.0;
    QString text = QString("%1 elapsed").arg(ui::duration(elapsed));
    if (fraction > 0.01) text = QString("ETA %1 · ").arg(ui::duration(elapsed * (1 - fraction) / fraction)) + text;
    if (const int groups = static_cast<int>(ctx_->liveAwq().size()); groups > 0)
        text += QString(" · %1 AWQ group%2 searched").arg(groups).arg(groups == 1 ? "" : "s");
    eta_->setText(text);
}

void ApplyProgress::stopped(const QString& what) {
    bar_->hide();
    cancel_->hide();
    eta_->clear();
    state_->setText(what + "; the model carries: " + ui::qstr(ctx_->workbench()->applied().describe()));
    show();
}
