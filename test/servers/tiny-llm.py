"""Writes a tiny llama-architecture model as GGUF, with random weights: the
words it says are nonsense, but llama.cpp loads it, and the API, streaming,
structured output and timing around it are real. Nothing is downloaded.

usage: tiny-llm.py OUT.gguf [SEED]   (the same seed writes the same file)
"""
import string
import sys

import gguf
import numpy as np

out = sys.argv[1]
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1234
LAYERS, EMBD, HEADS, FF, CONTEXT = 2, 64, 4, 128, 512

# A SentencePiece vocabulary: control tokens, the 256 byte tokens, then word pieces ("\u2581" is a space).
T = gguf.TokenType
tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
types = [T.UNKNOWN, T.CONTROL, T.CONTROL] + [T.BYTE] * 256
first_word = len(tokens)
words = ["\u2581"] + list(string.ascii_letters + string.digits + ".,!?'-")
words += ["\u2581" + w for w in ("the", "a", "hello", "world", "tiny", "model", "release", "test", "ok")]
tokens += words
types += [T.NORMAL] * len(words)
scores = [0.0] * first_word + [-float(i) for i in range(len(words))]

rng = np.random.default_rng(seed)


def weights(*shape, scale=0.02):
    # numpy's shape is the reverse of the one llama.cpp prints
    return (rng.standard_normal(shape) * scale).astype(np.float32)


writer = gguf.GGUFWriter(out, "llama")
writer.add_name(f"tiny-{seed}")
writer.add_context_length(CONTEXT)
writer.add_embedding_length(EMBD)
writer.add_block_count(LAYERS)
writer.add_feed_forward_length(FF)
writer.add_head_count(HEADS)
writer.add_head_count_kv(HEADS)
writer.add_rope_dimension_count(EMBD // HEADS)
writer.add_layer_norm_rms_eps(1e-5)
writer.add_vocab_size(len(tokens))
writer.add_file_type(gguf.LlamaFileType.ALL_F32)
writer.add_tokenizer_model("llama")
writer.add_token_list(tokens)
writer.add_token_scores(scores)
writer.add_token_types(types)
writer.add_bos_token_id(1)
writer.add_eos_token_id(2)
writer.add_unk_token_id(0)
writer.add_add_bos_token(True)
writer.add_add_eos_token(False)
writer.add_chat_template(
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)

writer.add_tensor("token_embd.weight", weights(len(tokens), EMBD, scale=1.0))
writer.add_tensor("output_norm.weight", np.ones(EMBD, dtype=np.float32))
# Only word pieces can win greedy decoding: never a stray byte (broken UTF-8) nor the end of
# the answer, so every free answer runs to max_tokens (finish reason "length").
head = weights(len(tokens), EMBD, scale=1.0)
head[:first_word] = 0.0
writer.add_tensor("output.weight", head)
for i in range(LAYERS):
    writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(EMBD, dtype=np.float32))
    for part in ("attn_q", "attn_k", "attn_v", "attn_output"):
        writer.add_tensor(f"blk.{i}.{part}.weight", weights(EMBD, EMBD))
    writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(EMBD, dtype=np.float32))
    writer.add_tensor(f"blk.{i}.ffn_gate.weight", weights(FF, EMBD))
    writer.add_tensor(f"blk.{i}.ffn_up.weight", weights(FF, EMBD))
    writer.add_tensor(f"blk.{i}.ffn_down.weight", weights(EMBD, FF))

writer.write_header_to_file()
writer.write_kv_data_to_file()
writer.write_tensors_to_file()
writer.close()
print(out)
