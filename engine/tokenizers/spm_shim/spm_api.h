/* C ABI of libquantscope_spm, the small shared library that holds SentencePiece.
 *
 * Debian's libsentencepiece carries its own protobuf and exports its symbols; libtorch loads
 * the system libprotobuf. Linked into one process they crash at start-up. So the engine never
 * links sentencepiece: it dlopen()s this library with RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND
 * (sentencepiece_loader.cpp) and calls these functions. Nothing C++ crosses the boundary;
 * results come back through callbacks, so no memory is freed across it. */
#ifndef QS_SPM_API_H
#define QS_SPM_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define QS_SPM_ABI_VERSION 2

typedef struct qs_spm qs_spm;
typedef void (*qs_spm_bytes_sink)(void* ctx, const char* data, size_t n);
typedef void (*qs_spm_ids_sink)(void* ctx, const int32_t* ids, size_t n);

enum { QS_SPM_BOS = 0, QS_SPM_EOS = 1, QS_SPM_UNK = 2, QS_SPM_PAD = 3 };
enum { QS_SPM_NORMAL = 0, QS_SPM_UNKNOWN = 1, QS_SPM_CONTROL = 2, QS_SPM_BYTE = 3, QS_SPM_UNUSED = 4 };

int qs_spm_abi_version(void);
/* Returns NULL on failure and reports the reason through err. */
qs_spm* qs_spm_load(const char* path, qs_spm_bytes_sink err, void* err_ctx);
/* The same from a serialized ModelProto (the bytes of a tokenizer.model). Since ABI 2. */
qs_spm* qs_spm_load_serialized(const char* data, size_t n, qs_spm_bytes_sink err, void* err_ctx);
void qs_spm_free(qs_spm* sp);
int32_t qs_spm_piece_size(const qs_spm* sp);
int32_t qs_spm_special_id(const qs_spm* sp, int which); /* -1 if the model has none */
int32_t qs_spm_piece_to_id(const qs_spm* sp, const char* piece, size_t len);
int qs_spm_piece_type(const qs_spm* sp, int32_t id); /* -1 for an id out of range */
int qs_spm_id_to_piece(const qs_spm* sp, int32_t id, qs_spm_bytes_sink sink, void* ctx);
/* The following return 0 on success, nonzero on failure (reason through err / sink unused). */
int qs_spm_encode(const qs_spm* sp, const char* text, size_t len, qs_spm_ids_sink sink, void* ctx,
                  qs_spm_bytes_sink err, void* err_ctx);
int qs_spm_decode_pieces(const qs_spm* sp, const char* const* pieces, const size_t* lens, size_t n,
                         qs_spm_bytes_sink sink, void* ctx);
int qs_spm_decode_ids(const qs_spm* sp, const int32_t* ids, size_t n, qs_spm_bytes_sink sink, void* ctx);

#ifdef __cplusplus
}
#endif
#endif
