#!/usr/bin/env python3
"""Exports the GPU benchmark models with the torch of the GPU machine (FP32, random weights, batch 1), and the
inputs the benchmark feeds them.

  resnet50.onnx   torchvision ResNet-50, input 'input' float32 [1,3,224,224], output 'logits' [1,1000]; random
                  BatchNorm statistics so that folding BN is a real numerical change.
  bert-base.onnx  transformers BertModel from a BERT-base config (12 layers, hidden 768, 12 heads, FFN 3072, exact
                  GELU, LayerNorm eps 1e-12, with the pooler), seq 128: inputs 'input_ids', 'attention_mask',
                  'token_type_ids' int64 [1,128]; outputs 'last_hidden_state' [1,128,768], 'pooler_output' [1,768].

torch.onnx.export(..., dynamo=True): opset 20, weights in an external '<model>.onnx.data' file. Each model's inputs
are saved next to it as <model>.inputs.npz (images uniform in [0, 1); token ids over the whole vocabulary, the last
16 positions padding (attention mask 0), token types 0 then 1), so every peer runs on the same values.

The models are rebuilt identically from their seeds by build_model() (bench/gpu_bench.py does so for torch eager
and torch.compile): same constructor, same seed, same weights on the CPU.

Usage: python3 bench/gpu_export.py --out DIR [--models resnet50,bert-base]
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

SEQ = 128
VOCAB = 30522
MODELS = ("resnet50", "bert-base")
IO_NAMES = {"resnet50": (["input"], ["logits"]),
            "bert-base": (["input_ids", "attention_mask", "token_type_ids"], ["last_hidden_state", "pooler_output"])}


def resnet50():
    import torchvision
    torch.manual_seed(0)
    m = torchvision.models.resnet50(weights=None)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                n = mod.num_features
                mod.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                mod.running_var.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
                mod.weight.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
                mod.bias.copy_(torch.randn(n, generator=g) * 0.1)
    return m.eval(), "torchvision %s resnet50(weights=None)" % torchvision.__version__


class BertIO(torch.nn.Module):
    """Three int64 inputs in, (last_hidden_state, pooler_output) out: plain tensors for the exporter."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask, token_type_ids):
        o = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                      return_dict=True)
        return o.last_hidden_state, o.pooler_output


def bert_base(attn=None):
    import transformers
    from transformers import BertConfig, BertModel
    torch.manual_seed(0)
    kw = {"attn_implementation": attn} if attn else {}
    cfg = BertConfig(vocab_size=VOCAB, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                     intermediate_size=3072, hidden_act="gelu", layer_norm_eps=1e-12, max_position_embeddings=512,
                     type_vocab_size=2, **kw)
    bert = BertModel(cfg).eval()
    impl = getattr(bert.config, "_attn_implementation", None)
    return BertIO(bert).eval(), "transformers %s BertModel(BertConfig base), attention %s" % (
        transformers.__version__, impl)


def build_model(name, attn=None):
    """(model on the CPU in eval mode, description)."""
    if name == "resnet50":
        return resnet50()
    if name == "bert-base":
        return bert_base(attn)
    raise SystemExit("unknown model %s (one of %s)" % (name, ", ".join(MODELS)))


def make_inputs(name):
    rng = np.random.default_rng(2024)
    if name == "resnet50":
        return {"input": rng.random((1, 3, 224, 224), dtype=np.float32)}
    ids = rng.integers(0, VOCAB, (1, SEQ)).astype(np.int64)
    mask = np.ones((1, SEQ), np.int64)
    mask[:, SEQ - 16:] = 0
    types = np.zeros((1, SEQ), np.int64)
    types[:, SEQ // 2:] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def export_one(name, out_dir):
    import onnx
    in_names, out_names = IO_NAMES[name]
    inputs = make_inputs(name)
    path = os.path.join(out_dir, name + ".onnx")
    info = {"onnx": os.path.basename(path)}
    attn = None
    for attempt in range(2):
        model, src = build_model(name, attn)
        args = tuple(torch.from_numpy(inputs[k]) for k in in_names)
        t0 = time.perf_counter()
        try:
            with torch.no_grad():
                torch.onnx.export(model, args, path, dynamo=True, input_names=in_names, output_names=out_names)
            break
        except Exception as e:  # sdpa attention may not export: the eager attention is the same maths
            if name != "bert-base" or attempt:
                raise
            info["first_attempt_error"] = "%s: %s" % (type(e).__name__, str(e)[:400])
            attn = "eager"
    info["export_s"] = time.perf_counter() - t0
    info["source"] = src
    info["attn_implementation"] = attn
    m = onnx.load(path, load_external_data=False)
    info["opset"] = max((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), default=None)
    info["nodes"] = len(m.graph.node)
    info["inputs"] = [i.name for i in m.graph.input]
    info["outputs"] = [o.name for o in m.graph.output]
    ops = {}
    for n in m.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    info["op_types"] = dict(sorted(ops.items(), key=lambda kv: -kv[1]))
    info["external_data"] = os.path.exists(path + ".data")
    np.savez(os.path.join(out_dir, name + ".inputs.npz"), **inputs)
    return info


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", default=",".join(MODELS))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    info = {"torch": torch.__version__, "exporter": "torch.onnx.export(dynamo=True)", "models": {}}
    rc = 0
    for name in a.models.split(","):
        try:
            info["models"][name] = export_one(name, a.out)
            d = info["models"][name]
            print("exported %s: opset %s, %d nodes, %.1f s" % (name, d["opset"], d["nodes"], d["export_s"]),
                  file=sys.stderr)
        except Exception as e:
            info["models"][name] = {"error": "%s: %s" % (type(e).__name__, str(e)[:2000])}
            print("export of %s failed: %s" % (name, info["models"][name]["error"]), file=sys.stderr)
            rc = 1
    with open(os.path.join(a.out, "export-info.json"), "w") as f:
        json.dump(info, f, indent=1)
    return rc


if __name__ == "__main__":
    sys.exit(main())
