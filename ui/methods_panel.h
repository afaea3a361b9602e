// The methods panel: RTN bits / group size / symmetric; AWQ off / keep / scale (factor
// slider) / auto-scale (+ clip, duo scaling); SmoothQuant alpha slider with W8A8 options;
// rotation off / random (seed) / Hadamard; calibration set; Apply and Reset.
// Every control change sends the new configuration to the AppContext at once (which
// debounces the single-layer preview); Apply runs the whole-model methods as a job.
// The controls scroll; Apply / Original weights, what the model carries and the Apply
// progress (ApplyProgress) stay pinned below them, visible at any window height. Hints say
// why a control changes nothing for the selected Linear (SmoothQuant only smooths Linears
// that read a norm; a rotation needs Apply).
#pragma once
#include <QWidget>

#include <map>
#include <string>

#include "quant/method_config.h"

class AppContext;
class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QGroupBox;
class QLabel;
class QPushButton;
class QSlider;
class QSpinBox;

class MethodsPanel : public QWidget {
    Q_OBJECT
  public:
    explicit MethodsPanel(AppContext* ctx, QWidget* parent = nullptr);

    // The configuration the controls describe.
    qs::MethodConfig config() const;
    // Sets the controls from a configuration (emits one change).
    void setConfig(const qs::MethodConfig& cfg);

    QSlider* awqFactorSlider() const { return awqFactor_; }
    QSlider* sqAlphaSlider() const { return sqAlpha_; }
    QComboBox* awqModeCombo() const { return awqMode_; }
    QCheckBox* smoothQuantCheck() const { return sqOn_; }
    QPushButton* applyButton() const { return apply_; }

    static double factorFromSlider(int v) { return v / 100.0; }
    static double alphaFromSlider(int v) { return v / 100.0; }

  private:
    QWidget* buildControls();
    void connectControls();
    QWidget* buildFooter();
    void emitChange();
    void updateEnabled();
    void updateAppliedLabel();
    void updateHints();
    void applyW8A8Preset();

    AppContext* ctx_;
    bool updating_ = false;
    // Mixed precision: the draft's per-Linear overrides, which the panel has no control for (the
    // Model page edits them through AppContext::setOverride); kept so config() carries them.
    std::map<std::string, qs::LinearOverride> overrides_;
    QComboBox *bits_, *group_;
    QCheckBox *symmetric_, *lmHead_, *fp16Scales_;
    QComboBox* awqMode_;
    QDoubleSpinBox* salient_;
    QSlider* awqFactor_;
    QLabel* awqFactorLabel_;
    QCheckBox *awqClip_, *duo_, *actOrder_;
    QCheckBox* sqOn_;
    QSlider* sqAlpha_;
    QLabel* sqAlphaLabel_;
    QComboBox* act_;
    QCheckBox* bmm_;
    QPushButton* w8a8_;
    QLabel *sqHint_, *rotHint_;
    QComboBox* rotation_;
    QSpinBox* seed_;
    QSpinBox *calibSamples_, *calibSeqlen_;
    QLabel* calibFile_;
    QPushButton *choose_, *deflt_;
    QString calibPath_;
    QPushButton *apply_, *reset_;
    QLabel* applied_;
    QGroupBox *awqBox_, *sqBox_;
};
