#include "job_status.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QToolButton>

#include <cmath>

#include "job_runner.h"

JobStatus::JobStatus(JobRunner* jobs, QWidget* parent) : QWidget(parent), jobs_(jobs) {
    setObjectName("jobStatus");
    auto* l = new QHBoxLayout(this);
    l->setContentsMargins(0, 0, 0, 0);
    bar_ = new QProgressBar(this);
    bar_->setObjectName("jobProgress");
    bar_->setMaximumWidth(220);
    bar_->setRange(0, 1000);
    eta_ = new QLabel(this);
    eta_->setObjectName("jobEta");
    cancel_ = new QToolButton(this);
    cancel_->setObjectName("jobCancel");
    cancel_->setText("Cancel");
    cancel_->setToolTip("Cancel this job (the model keeps the configuration it carries)");
    l->addWidget(bar_);
    l->addWidget(eta_);
    l->addWidget(cancel_);
    connect(cancel_, &QToolButton::clicked, this, [this] {
        if (!channel_.isEmpty()) jobs_->cancel(channel_);
    });
    hide();
}

QString JobStatus::eta(double elapsed, double f) {
    if (f < 0.02 || f >= 1.0 || elapsed < 1.0) return {};
    const double left = elapsed * (1.0 - f) / f;
    const long s = std::lround(left);
    if (s < 60) return QString("ETA %1 s").arg(s);
    if (s < 3600) return QString("ETA %1 min %2 s").arg(s / 60).arg(s % 60);
    return QString("ETA %1 h %2 min").arg(s / 3600).arg((s % 3600) / 60);
}

void JobStatus::report(const QString& channel, double f, const QString& message) {
    if (!started_.contains(channel) || f <= 0.0) started_[channel].start();
    channel_ = channel;
    bar_->setValue(static_cast<int>(f * 1000));
    bar_->setFormat(QString("%p% ") + channel);
    eta_->setText(eta(started_[channel].elapsed() / 1000.0, f));
    setToolTip(message);
    show();
}

void JobStatus::clear() {
    started_.clear();
    channel_.clear();
    eta_->clear();
    hide();
}

QString JobStatus::etaText() const { return eta_->text(); }
