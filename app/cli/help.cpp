// --help and --version texts.
#include <cstdio>

#include "commands.h"
#include "core/device.h"

namespace qs::cli {

void print_version() {
    std::string devs;
    for (const auto& d : available_devices()) devs += (devs.empty() ? "" : ", ") + d;
    std::printf("quantscope-cli %s\nlibtorch %s (devices: %s; %d CPU threads)%s\n", QS_VERSION, libtorch_version().c_str(),
                devs.c_str(), compute_threads(),
                reference_blas_detected() ? "\nwarning: libtorch uses the reference BLAS (slow); install libopenblas0-pthread"
                                          : "");
}

void print_help() {
    std::printf(
        "quantscope-cli %s - look inside LLM quantization from the command line\n"
        "\n"
        "Usage: quantscope-cli COMMAND [options]\n"
        "\n"
        "Commands:\n"
        "  info      Describe a model folder without loading its weights.\n"
        "              --model DIR        Hugging Face folder (default: the bundled TinyStories-656K)\n"
        "              --json             one JSON object on stdout (architecture, parameters, dtype,\n"
        "                                 bytes_on_disk, layers, heads, kv_heads, vocab_size, linears, ...)\n"
        "  check     Load and validate every tensor of a model (shapes, dtypes, NaN/Inf).\n"
        "              --model DIR  --device D  --dtype T  --json\n"
        "  generate  Continue a prompt, greedy or sampled, with a KV cache.\n"
        "              --model DIR\n"
        "              --prompt TEXT | --prompt-ids 1,2,3\n"
        "              --max-new-tokens N (32)  --sample  --temperature T (1.0)  --top-k K (0 = off)\n"
        "              --top-p P (1.0 = off)  --seed N (0)  --stop-at-eos 0|1 (1)\n"
        "              --device cpu|cuda|mps (cpu)  --dtype fp32|bf16|fp16 (fp32; fp16 not on cpu)  --json\n"
        "  ppl       Perplexity by the llm-awq/GPTQ protocol (single BOS, non-overlapping windows).\n"
        "              --model DIR  --dataset wikitext2|PATH (.txt, .raw, .jsonl, .jsonl.zst; default wikitext2)\n"
        "              --tokenizer DIR (default: the model folder)\n"
        "              --seqlen N (default min(2048, max_position_embeddings))  --nsamples N|all (all)\n"
        "              --batch N (1)  --device D  --dtype T  --json (ppl, nsamples, seqlen, tokens, seconds,\n"
        "              tokens_per_second, dtype, device, protocol, mode, dataset, window_nll)\n"
        "              --mode auto|memory|block-sequential (auto): how the decoder blocks are held.\n"
        "                block-sequential loads one block at a time from the mapped checkpoint for each pass\n"
        "                over all windows (models larger than memory); auto picks it when the weights in the\n"
        "                compute dtype exceed 80 % of the memory available on the device (also for sweep,\n"
        "                quantize, generate, check)\n"
        "              plus the method options below (quantize before evaluating)\n"
        "  sweep     Perplexity over a grid of one or two method options.\n"
        "              --grid NAME=V1,V2,... (once or twice, e.g. --grid sq-alpha=0,0.5,0.85 --grid w-bits=3,4)\n"
        "              --format table|csv|json (table), the ppl options and the method options\n"
        "  quantize  Apply the method options and export a checkpoint (atomic: written to OUT.tmp-PID,\n"
        "            fsync'ed, renamed; never into or over the source; free space checked; Ctrl-C cancels\n"
        "            and removes the partial output). Without --out: print the quantization report (JSON).\n"
        "              --model DIR  --device D  --dtype T  --tokenizer DIR  plus the method options below\n"
        "              --out DIR          the new model folder\n"
        "              --format F         fake | awq-gemm | int8 | transformed (fake)\n"
        "                                 fake: dequantized weights, plain Hugging Face checkpoint\n"
        "                                 awq-gemm: AutoAWQ GEMM int4 (needs rtn/awq --w-bits 4, asymmetric,\n"
        "                                   --group-size 32|64|128; other tensors fp16; tokenizer copied)\n"
        "                                 int8: W8A16, int8 weights + float32 per-channel scales (needs\n"
        "                                   --w-bits 8 --w-quant per-channel --symmetric)\n"
        "                                 transformed: rotated/smoothed/AWQ-scaled weights before quantization\n"
        "              --out-dtype T      float32 | float16 | bfloat16 (default: the source checkpoint's dtype)\n"
        "              --force            replace an existing model folder at --out (never the source)\n"
        "              --awq-reference    fake only: write the model exactly as the awq-gemm export represents\n"
        "                                 it (fp16 scales and fp16-rounded other tensors; float32 by default)\n"
        "              --dump-logits FILE write input_ids and fp32 logits of the exported state (safetensors)\n"
        "              --logits-tokens N  tokens for --dump-logits (64)   --json  report as JSON\n"
        "            The exported awq-gemm and int8 folders open in every command (--model OUT).\n"
        "\n"
        "Method options (ppl, sweep, quantize):\n"
        "  --method M[,M...]    rtn | awq-keep | awq-scale | awq | smoothquant | rotate (repeatable; they run\n"
        "                       in the order rotate -> smoothquant -> awq search -> weight quant -> act quant)\n"
        "  --w-bits N           weight bits, 2..8 (4; smoothquant: 8)\n"
        "  --group-size N       group size along the input dimension (128); -1 = per output channel\n"
        "  --w-quant G          per-group | per-channel | per-tensor (per-group; smoothquant: per-channel)\n"
        "  --symmetric          symmetric (absmax) weights instead of min/max with a zero point\n"
        "  --fp16-scales        round scales to fp16 before computing codes (AutoAWQ's stored scales:\n"
        "                       an awq-gemm export then reloads to exactly this fake-quant model)\n"
        "  --include-lm-head    also quantize lm_head (the seed notebooks do; default: decoder Linears only)\n"
        "  --awq-salient F      fraction of salient input channels by mean |x| (0.01)\n"
        "  --awq-factor S       awq-scale: multiply salient channels by S before quantizing (2)\n"
        "  --awq-clip           awq: also search the weight clipping range (llm-awq auto_clip)\n"
        "  --duo-scaling        awq: AutoAWQ duo scaling (scales = x^r / w^(1-r))\n"
        "  --awq-direct-loss    awq: re-run each Linear-only group's Linear for every grid ratio, as\n"
        "                       llm-awq does (default: the same MSE from X^T X, one pass)\n"
        "  --sq-alpha A         smoothquant migration strength, 0..1 (0.5)\n"
        "  --a-bits N           activation fake-quant bits (0 = off; smoothquant: 8)\n"
        "  --act-quant Q        per-token | per-tensor (per-token)\n"
        "  --quantize-bmm       also quantize the q/k/v outputs (the attention matmul inputs)\n"
        "  --rotation R         random | hadamard (random)\n"
        "  --seed N             rotation seed (0)\n"
        "  --calib PATH         calibration text: .txt, .jsonl, .jsonl.zst (default: bundled tinyshakespeare)\n"
        "  --calib-samples N    calibration blocks (128)   --calib-seqlen N  block length (512)\n"
        "  --calib-seed N       shuffle seed for .jsonl sets (42)\n"
        "\n"
        "Options:\n"
        "  --help     this text\n"
        "  --version  version, libtorch version and devices\n"
        "\n"
        "Errors go to stderr with exit code 2 (bad input) or 3 (internal error).\n",
        QS_VERSION);
}

}  // namespace qs::cli
