// Generate page: a prompt, greedy or sampled decoding, and the original model's and the
// current (applied) model's continuations side by side, with the number of new tokens each
// wrote and the first token where they differ highlighted on both sides.
#pragma once
#include <QWidget>

class AppContext;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;
class QTextBrowser;

class GeneratePage : public QWidget {
    Q_OBJECT
  public:
    explicit GeneratePage(AppContext* ctx, QWidget* parent = nullptr);
    void generate();
    QPlainTextEdit* promptEdit() const { return prompt_; }
    QTextBrowser* originalOutput() const { return original_; }
    QTextBrowser* currentOutput() const { return current_; }

  signals:
    void generated();

  private:
    void updateTitles();
    AppContext* ctx_;
    QPlainTextEdit* prompt_;
    QSpinBox *tokens_, *seed_;
    QComboBox* mode_;
    QDoubleSpinBox* temperature_;
    QPushButton* go_;
    QLabel *originalTitle_, *currentTitle_, *divergence_;
    QString originalCount_, currentCount_;
    QTextBrowser *original_, *current_;
};
