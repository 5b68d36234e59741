"""A sentencepiece `tokenizer.model` rebuilt from a GGUF's vocabulary, for the random Gemma 2 2B of the GPU bench.

llama.cpp's converter reads a Gemma 2 vocabulary from `tokenizer.model`, which transformers 5 does not save. On Colab
`merge` copies the real file from the Hub repository; the bench's random Gemma 2 2B uses the Gemma 3 vocabulary of the
packaged GGUF instead, so notebook 4 needs this file to export it (bench/colab_gpu.sh copies it into the model).

    python bench/spm_from_gguf.py gemma-3-270m-q4_k_m.gguf tokenizer.model

Needs `gguf`, `sentencepiece` and `protobuf` (for sentencepiece_model_pb2). Pieces, scores and token types come
straight from the GGUF (its token types use sentencepiece's numbering); the model is BPE with byte fallback and no
added space prefix, as Gemma's. The unknown token is marked UNKNOWN (sentencepiece refuses a model without one).
"""

import sys

import sentencepiece as spm
from gguf import GGUFReader
from sentencepiece import sentencepiece_model_pb2 as pb


def main(gguf_path: str, out: str) -> None:
    fields = GGUFReader(gguf_path).fields
    value = lambda key: fields[key].contents()  # noqa: E731
    model = pb.ModelProto()
    for token, score, kind in zip(value("tokenizer.ggml.tokens"), value("tokenizer.ggml.scores"),
                                  value("tokenizer.ggml.token_type")):
        piece = model.pieces.add()
        piece.piece, piece.score, piece.type = token, float(score), int(kind)
    model.pieces[value("tokenizer.ggml.unknown_token_id")].type = pb.ModelProto.SentencePiece.UNKNOWN
    spec = model.trainer_spec
    spec.model_type, spec.vocab_size, spec.byte_fallback = pb.TrainerSpec.BPE, len(model.pieces), True
    spec.unk_id = value("tokenizer.ggml.unknown_token_id")
    spec.bos_id, spec.eos_id = value("tokenizer.ggml.bos_token_id"), value("tokenizer.ggml.eos_token_id")
    spec.pad_id = value("tokenizer.ggml.padding_token_id")
    norm = model.normalizer_spec
    norm.name, norm.add_dummy_prefix, norm.remove_extra_whitespaces, norm.escape_whitespaces = \
        "identity", False, False, True
    with open(out, "wb") as f:
        f.write(model.SerializeToString())
    check = spm.SentencePieceProcessor(model_file=out)
    print(f"{out}: {check.vocab_size()} pieces;",
          check.encode("The traffic is outside your control.", out_type=str))


if __name__ == "__main__":
    main(*sys.argv[1:3])
