// Developer tool: renders packaging/icons/quantscope.svg to the PNG sizes the package installs.
//   g++ -std=c++17 -fPIC render_icon.cpp $(pkg-config --cflags --libs Qt6Gui Qt6Svg) -o render_icon
//   QT_QPA_PLATFORM=offscreen ./render_icon ../../packaging/icons/quantscope.svg ../../packaging/icons
#include <QGuiApplication>
#include <QImage>
#include <QPainter>
#include <QSvgRenderer>

#include <cstdio>

int main(int argc, char** argv) {
    QGuiApplication app(argc, argv);
    if (argc != 3) {
        std::fprintf(stderr, "usage: render_icon SVG OUTDIR\n");
        return 2;
    }
    QSvgRenderer svg(QString::fromLocal8Bit(argv[1]));
    if (!svg.isValid()) return 1;
    for (int size : {16, 32, 48, 64, 128, 256}) {
        QImage img(size, size, QImage::Format_ARGB32_Premultiplied);
        img.fill(Qt::transparent);
        QPainter p(&img);
        p.setRenderHint(QPainter::Antialiasing);
        svg.render(&p);
        p.end();
        const QString out = QString("%1/quantscope-%2.png").arg(QString::fromLocal8Bit(argv[2])).arg(size);
        if (!img.save(out)) return 1;
    }
    return 0;
}
