// Generate page: a prompt, greedy or sampled decoding, and the original model's and the
// current (applied) model's continuations side by side.
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
    AppContext* ctx_;
    QPlainTextEdit* prompt_;
    QSpinBox *tokens_, *seed_;
    QComboBox* mode_;
    QDoubleSpinBox* temperature_;
    QPushButton* go_;
    QLabel *originalTitle_, *currentTitle_;
    QTextBrowser *original_, *current_;
};
