#!/usr/bin/env python3
"""Exports the CPU benchmark models to ONNX (opset 17) with random weights, batch 1.

  resnet50.onnx     torchvision ResNet-50, input 'input' float32 [1,3,224,224], output 'logits' [1,1000].
                    Exported the usual way: the exporter already folds BatchNormalization into the convolutions.
  resnet50-bn.onnx  the same network with BatchNormalization kept as separate nodes (TrainingMode.PRESERVE on an
                    eval-mode model), as other exporters and frameworks write it: exercises kiln's fuse-conv-bn.
  bert-base.onnx    BERT-base (12 layers, hidden 768, 12 heads, FFN 3072, exact GELU, LayerNorm eps 1e-12), seq 128,
                    input 'input_ids' int64 [1,128], output 'last_hidden_state' [1,128,768]. transformers' BertModel
                    with a random config when transformers imports, else an equivalent plain-torch model. The
                    attention mask (all ones) and token type ids (all zeros) are constants of the graph, so the
                    benchmark feeds one integer input whose values cannot leave the embedding tables.

Needs torch and torchvision (Debian: python3-torch, python3-torchvision); transformers is optional.
Usage: /usr/bin/python3 bench/export_models.py [--out DIR] [--only NAME ...]
"""
import argparse
import json
import math
import os
import sys

import torch

SEQ = 128
OPSET = 17


def export(model, args, path, input_names, output_names, preserve_bn=False):
    model.eval()
    kw = {}
    if preserve_bn:
        kw["training"] = torch.onnx.TrainingMode.PRESERVE
    with torch.no_grad():
        torch.onnx.export(model, args, path, opset_version=OPSET, input_names=input_names,
                          output_names=output_names, do_constant_folding=True, **kw)


def resnet50():
    import torchvision
    torch.manual_seed(0)
    m = torchvision.models.resnet50(weights=None)
    # Fresh BatchNorm statistics are mean 0 / var 1; random ones make folding BN a real numerical change.
    g = torch.Generator().manual_seed(1)
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            n = mod.num_features
            mod.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            mod.running_var.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
            mod.weight.data.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
            mod.bias.data.copy_(torch.randn(n, generator=g) * 0.1)
    return m.eval()


class PlainBertLayer(torch.nn.Module):
    def __init__(self, h, heads, ffn, eps):
        super().__init__()
        self.heads, self.dh = heads, h // heads
        self.q, self.k, self.v, self.o = (torch.nn.Linear(h, h) for _ in range(4))
        self.ln1 = torch.nn.LayerNorm(h, eps=eps)
        self.up, self.down = torch.nn.Linear(h, ffn), torch.nn.Linear(ffn, h)
        self.ln2 = torch.nn.LayerNorm(h, eps=eps)

    def forward(self, x, mask_add):
        b, s, h = x.shape

        def split(t):
            return t.view(b, s, self.heads, self.dh).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.dh) + mask_add, dim=-1)
        ctx = (att @ v).transpose(1, 2).reshape(b, s, h)
        x = self.ln1(x + self.o(ctx))
        return self.ln2(x + self.down(torch.nn.functional.gelu(self.up(x))))


class PlainBert(torch.nn.Module):
    """BERT-base as in the paper, for when transformers is not installable next to this torch."""

    def __init__(self, vocab=30522, h=768, layers=12, heads=12, ffn=3072, max_pos=512, types=2, eps=1e-12):
        super().__init__()
        self.word, self.pos, self.type = (torch.nn.Embedding(vocab, h), torch.nn.Embedding(max_pos, h),
                                          torch.nn.Embedding(types, h))
        self.ln = torch.nn.LayerNorm(h, eps=eps)
        self.layers = torch.nn.ModuleList(PlainBertLayer(h, heads, ffn, eps) for _ in range(layers))

    def forward(self, input_ids, attention_mask, token_type_ids):
        s = input_ids.shape[1]
        pos = torch.arange(s, dtype=torch.long).unsqueeze(0)
        x = self.ln(self.word(input_ids) + self.pos(pos) + self.type(token_type_ids))
        mask_add = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in self.layers:
            x = layer(x, mask_add)
        return x


class BertOneInput(torch.nn.Module):
    """input_ids -> last_hidden_state, with an all-ones attention mask and zero token types baked in."""

    def __init__(self, bert, hf):
        super().__init__()
        self.bert, self.hf = bert, hf
        self.register_buffer("mask", torch.ones(1, SEQ, dtype=torch.long))
        self.register_buffer("types", torch.zeros(1, SEQ, dtype=torch.long))

    def forward(self, input_ids):
        if self.hf:
            return self.bert(input_ids=input_ids, attention_mask=self.mask, token_type_ids=self.types)[0]
        return self.bert(input_ids, self.mask, self.types)


def bert_base():
    torch.manual_seed(0)
    try:
        from transformers import BertConfig, BertModel
        import transformers
        cfg = BertConfig(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                         intermediate_size=3072, hidden_act="gelu", layer_norm_eps=1e-12,
                         max_position_embeddings=512, type_vocab_size=2)
        bert = BertModel(cfg, add_pooling_layer=False).eval()
        return BertOneInput(bert, True).eval(), "transformers %s BertModel" % transformers.__version__
    except ImportError:
        return BertOneInput(PlainBert().eval(), False).eval(), "plain-torch BERT-base"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build",
                                                  "bench-models"))
    ap.add_argument("--only", nargs="*", help="resnet50, resnet50-bn, bert-base")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    want = set(a.only or ["resnet50", "resnet50-bn", "bert-base"])
    info = {"torch": torch.__version__, "opset": OPSET, "models": {}}
    if want & {"resnet50", "resnet50-bn"}:
        import torchvision
        info["torchvision"] = torchvision.__version__
        m = resnet50()
        x = torch.rand(1, 3, 224, 224)
        for name, keep_bn in (("resnet50", False), ("resnet50-bn", True)):
            if name not in want:
                continue
            path = os.path.join(a.out, name + ".onnx")
            export(m, (x,), path, ["input"], ["logits"], preserve_bn=keep_bn)
            info["models"][name] = {"source": "torchvision %s resnet50(weights=None)" % torchvision.__version__,
                                    "batchnorm_kept": keep_bn}
            print("wrote", path, file=sys.stderr)
    if "bert-base" in want:
        m, src = bert_base()
        ids = torch.randint(0, 30522, (1, SEQ), dtype=torch.long)
        path = os.path.join(a.out, "bert-base.onnx")
        export(m, (ids,), path, ["input_ids"], ["last_hidden_state"])
        info["models"]["bert-base"] = {"source": src, "seq": SEQ}
        print("wrote", path, file=sys.stderr)
    with open(os.path.join(a.out, "export-info.json"), "w") as f:
        json.dump(info, f, indent=1)


if __name__ == "__main__":
    main()
