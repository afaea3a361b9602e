// The workbench window. It only wires pages together: the layer navigator (left), the
// pages (centre tabs), the methods panel (right), the error banner, the toolbar with the
// device / dtype choices and the status bar. Each page lives in its own file.
#pragma once
#include <QElapsedTimer>
#include <QMainWindow>
#include <QStringList>

class ActivationsPage;
class AppContext;
class AwqPage;
class ErrorPage;
class ExportDialog;
class RecipeExport;
class GeneratePage;
class JobRunner;
class LayerNavigator;
class MethodsPanel;
class ModelPage;
class PerplexityPage;
class SensitivityPage;
class QComboBox;
class QLabel;
class JobStatus;
class QTabWidget;
class WeightsPage;
class WorkspaceActions;

class MainWindow : public QMainWindow {
    Q_OBJECT
  public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // Opens a model folder on a worker thread; on failure the previous model stays loaded.
    void openModel(const QString& dir);
    // View (model, activations, weights, error, awq, perplexity, generate, sensitivity) and Linear to
    // show once the model has loaded.
    void setInitialSelection(const QString& view, const QString& layer);
    // Screenshot mode: the perplexity view runs one evaluation so that it has data to show.
    void setScreenshotMode(bool on) { screenshot_ = on; }
    bool showView(const QString& name);
    QString currentView() const;
    static QStringList viewNames();  // model, activations, ..., perplexity, generate, sensitivity
    bool saveScreenshot(const QString& file);

  public slots:
    // At most 1600 x 1000, inside the available area of the window's screen, centred there.
    void placeOnScreen();

  public:
    QString errorText() const;   // the error banner's text ("" when hidden)
    QString statusText() const;  // the status bar's message
    bool hasModel() const;
    AppContext* context() const { return ctx_; }
    JobRunner* jobs() const;
    MethodsPanel* methodsPanel() const { return methods_; }
    LayerNavigator* navigator() const { return nav_; }
    ModelPage* modelPage() const { return modelPage_; }
    ActivationsPage* activationsPage() const { return activations_; }
    WeightsPage* weightsPage() const { return weights_; }
    ErrorPage* errorPage() const { return error_; }
    AwqPage* awqPage() const { return awq_; }
    PerplexityPage* perplexityPage() const { return ppl_; }
    GeneratePage* generatePage() const { return generate_; }
    SensitivityPage* sensitivityPage() const { return sens_; }
    // File > Export… (created on first use) and File > Save / Open Workspace….
    ExportDialog* exportDialog();
    void openExportDialog();
    WorkspaceActions* workspaceActions() const { return workspace_; }
    // File > Export llm-compressor recipe… (next to File > Export…).
    RecipeExport* recipeExport() const { return recipe_; }
    // Help > About: version, libtorch, and whether CUDA/MPS are compiled in and usable here
    // (non-modal QMessageBox "aboutBox").
    void showAbout();

  signals:
    void modelChanged();
    void idle();  // no job running after the first load attempt: the window shows its final state

  protected:
    void closeEvent(QCloseEvent* e) override;

  private:
    void buildToolbar();
    // Where file choosers start: the loaded model's folder (a GGUF file's folder), else home.
    QString startDir() const;
    void buildStatusBar();
    void fillDtypes();
    void syncDeviceCombos();  // the toolbar shows the loaded model's device and dtype
    void showError(const QString& what, const QString& message);
    void updateDeviceStatus();

    AppContext* ctx_;
    LayerNavigator* nav_;
    MethodsPanel* methods_;
    QTabWidget* tabs_;
    ModelPage* modelPage_;
    ActivationsPage* activations_;
    WeightsPage* weights_;
    ErrorPage* error_;
    AwqPage* awq_;
    PerplexityPage* ppl_;
    GeneratePage* generate_;
    SensitivityPage* sens_;
    ExportDialog* export_ = nullptr;
    WorkspaceActions* workspace_;
    RecipeExport* recipe_ = nullptr;
    QWidget* banner_;
    QLabel* bannerText_;
    QLabel* status_;
    QLabel* deviceStatus_;
    JobStatus* progress_;
    QComboBox *device_, *dtype_;
    QString dir_;
    QString initialView_;
    QString notice_;  // the last result (export written, workspace saved / opened)
    QElapsedTimer noticeClock_;
    bool attempted_ = false;  // a load finished (successfully or not)
    bool screenshot_ = false;
    bool screenshotRunDone_ = false;
};
