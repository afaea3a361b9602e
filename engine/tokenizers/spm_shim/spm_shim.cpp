// libquantscope_spm: SentencePiece behind the C ABI of spm_api.h. Built as its own shared
// library (see CMakeLists.txt); only the qs_spm_* symbols are exported.
#include "spm_api.h"

#include <sentencepiece_processor.h>

#include <exception>
#include <string>
#include <vector>

#define QS_SPM_EXPORT extern "C" __attribute__((visibility("default")))

struct qs_spm {
    sentencepiece::SentencePieceProcessor proc;
};

namespace {
void report(qs_spm_bytes_sink err, void* ctx, const std::string& msg) {
    if (err) err(ctx, msg.data(), msg.size());
}
}  // namespace

QS_SPM_EXPORT int qs_spm_abi_version(void) { return QS_SPM_ABI_VERSION; }

namespace {
template <class LoadFn>
qs_spm* load_with(LoadFn load, qs_spm_bytes_sink err, void* err_ctx) {
    try {
        auto* sp = new qs_spm;
        const auto status = load(sp->proc);
        if (!status.ok()) {
            report(err, err_ctx, status.ToString());
            delete sp;
            return nullptr;
        }
        return sp;
    } catch (const std::exception& e) {
        report(err, err_ctx, e.what());
    } catch (...) {
        report(err, err_ctx, "unknown error");
    }
    return nullptr;
}
}  // namespace

QS_SPM_EXPORT qs_spm* qs_spm_load(const char* path, qs_spm_bytes_sink err, void* err_ctx) {
    return load_with([&](sentencepiece::SentencePieceProcessor& p) { return p.Load(path); }, err, err_ctx);
}

QS_SPM_EXPORT qs_spm* qs_spm_load_serialized(const char* data, size_t n, qs_spm_bytes_sink err, void* err_ctx) {
    return load_with(
        [&](sentencepiece::SentencePieceProcessor& p) { return p.LoadFromSerializedProto(absl::string_view(data, n)); },
        err, err_ctx);
}

QS_SPM_EXPORT void qs_spm_free(qs_spm* sp) { delete sp; }

QS_SPM_EXPORT int32_t qs_spm_piece_size(const qs_spm* sp) { return sp->proc.GetPieceSize(); }

QS_SPM_EXPORT int32_t qs_spm_special_id(const qs_spm* sp, int which) {
    switch (which) {
        case QS_SPM_BOS:
            return sp->proc.bos_id();
        case QS_SPM_EOS:
            return sp->proc.eos_id();
        case QS_SPM_UNK:
            return sp->proc.unk_id();
        case QS_SPM_PAD:
            return sp->proc.pad_id();
        default:
            return -1;
    }
}

QS_SPM_EXPORT int32_t qs_spm_piece_to_id(const qs_spm* sp, const char* piece, size_t len) {
    try {
        return sp->proc.PieceToId(std::string(piece, len));
    } catch (...) {
        return -1;
    }
}

QS_SPM_EXPORT int qs_spm_piece_type(const qs_spm* sp, int32_t id) {
    if (id < 0 || id >= sp->proc.GetPieceSize()) return -1;
    if (sp->proc.IsUnknown(id)) return QS_SPM_UNKNOWN;
    if (sp->proc.IsControl(id)) return QS_SPM_CONTROL;
    if (sp->proc.IsByte(id)) return QS_SPM_BYTE;
    if (sp->proc.IsUnused(id)) return QS_SPM_UNUSED;
    return QS_SPM_NORMAL;
}

QS_SPM_EXPORT int qs_spm_id_to_piece(const qs_spm* sp, int32_t id, qs_spm_bytes_sink sink, void* ctx) {
    if (id < 0 || id >= sp->proc.GetPieceSize()) return 1;
    const std::string& p = sp->proc.IdToPiece(id);
    sink(ctx, p.data(), p.size());
    return 0;
}

QS_SPM_EXPORT int qs_spm_encode(const qs_spm* sp, const char* text, size_t len, qs_spm_ids_sink sink, void* ctx,
                                qs_spm_bytes_sink err, void* err_ctx) {
    try {
        std::vector<int> ids;
        const auto status = sp->proc.Encode(std::string(text, len), &ids);
        if (!status.ok()) {
            report(err, err_ctx, status.ToString());
            return 1;
        }
        std::vector<int32_t> out(ids.begin(), ids.end());
        sink(ctx, out.data(), out.size());
        return 0;
    } catch (const std::exception& e) {
        report(err, err_ctx, e.what());
    } catch (...) {
        report(err, err_ctx, "unknown error");
    }
    return 1;
}

QS_SPM_EXPORT int qs_spm_decode_pieces(const qs_spm* sp, const char* const* pieces, const size_t* lens, size_t n,
                                       qs_spm_bytes_sink sink, void* ctx) {
    try {
        std::vector<std::string> v;
        v.reserve(n);
        for (size_t i = 0; i < n; ++i) v.emplace_back(pieces[i], lens[i]);
        std::string out;
        if (!sp->proc.Decode(v, &out).ok()) return 1;
        sink(ctx, out.data(), out.size());
        return 0;
    } catch (...) {
        return 1;
    }
}

QS_SPM_EXPORT int qs_spm_decode_ids(const qs_spm* sp, const int32_t* ids, size_t n, qs_spm_bytes_sink sink, void* ctx) {
    try {
        std::vector<int> v(ids, ids + n);
        std::string out;
        if (!sp->proc.Decode(v, &out).ok()) return 1;
        sink(ctx, out.data(), out.size());
        return 0;
    } catch (...) {
        return 1;
    }
}
