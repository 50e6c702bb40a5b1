#!/usr/bin/env python3
"""Pictures of an `fff routes` report (docs/routing.md).

    fff routes --glue sst2 --split dev -o routes.json
    python3 tools/plot_routes.py routes.json -o docs/routing/sst2-dev

writes, as SVG and PNG (PREFIX-<name>.{svg,png}):
  tree      one icicle per layer: root at the top, one row per level, each
            node a box as wide as its share of the tokens (so a box's children
            split it exactly), coloured by how evenly the node splits its
            tokens (split entropy, bits; leaves grey)
  balance   layers x levels heatmap of the visit-weighted split entropy
  classes   (labelled reports) per layer, the share of each class's tokens
            that reach each leaf, with I(leaf; class) in the title

Needs matplotlib (Debian: python3-matplotlib); only reads the JSON.
"""
import argparse
import json
import math
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import cm, colors  # noqa: E402


# GLUE label indices as fff-train reads them (tools/train/glue/glue_tasks.h).
CLASS_NAMES = {
    "sst2": ["negative", "positive"],
    "cola": ["unacceptable", "acceptable"],
    "mrpc": ["not paraphrase", "paraphrase"],
    "rte": ["entailment", "not entailment"],
    "qnli": ["entailment", "not entailment"],
    "wnli": ["not entailment", "entailment"],
}


def split_entropy(left, right):
    n = left + right
    h = 0.0
    for c in (left, right):
        if c > 0:
            p = c / n
            h -= p * math.log2(p)
    return h


def save(fig, prefix, name):
    for ext in ("svg", "png"):
        fig.savefig(f"{prefix}-{name}.{ext}", dpi=110, bbox_inches="tight")
    plt.close(fig)
    print(f"{prefix}-{name}.svg/.png", file=sys.stderr)


def trees(report):
    for layer in report["layers"]:
        for tree in layer["trees"]:
            yield layer["layer"], tree


def title_of(report):
    src = report.get("glue_task")
    src = f"GLUE {src} {report['split']}" if src else f"{report['texts']} texts"
    return f"{report['ff']} ({report['model'].rstrip('/').split('/')[-1]}), {src}, {report['tokens']} tokens"


def plot_tree(report, prefix):
    depth = report["depth"]
    items = list(trees(report))
    fig, axes = plt.subplots(len(items), 1, figsize=(11, 1.1 + 0.28 * (depth + 1) * len(items)),
                             squeeze=False)
    cmap = cm.get_cmap("viridis")
    norm = colors.Normalize(vmin=0, vmax=1)
    for ax, (layer, tree) in zip(axes[:, 0], items):
        v = tree["visits"]
        total = v[0] if v[0] > 0 else 1
        # x-extent of each node: children split their parent's extent.
        start = [0.0] * len(v)
        for node in range(len(v)):
            level = int(math.log2(node + 1))
            width = v[node] / total
            if node > 0:
                parent = (node - 1) // 2
                if node == 2 * parent + 2:  # right child after the left one
                    start[node] = start[parent] + v[2 * parent + 1] / total
                else:
                    start[node] = start[parent]
            if width <= 0:
                continue
            if level < depth:
                color = cmap(norm(split_entropy(v[2 * node + 1], v[2 * node + 2])))
            else:
                color = (0.75, 0.75, 0.75, 1.0)
            ax.barh(-level, width, left=start[node], height=0.92, color=color,
                    edgecolor="white", linewidth=0.15 if depth > 8 else 0.4)
        ax.set_xlim(0, 1)
        ax.set_ylim(-depth - 0.6, 0.6)
        ax.set_yticks([0, -depth])
        ax.set_yticklabels(["root", f"level {depth}"], fontsize=7)
        ax.set_xticks([])
        label = f"layer {layer}" + (f", tree {tree['tree']}" if report["trees"] > 1 else "")
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
        for s in ax.spines.values():
            s.set_visible(False)
    axes[0, 0].set_title("Tree usage (box width = share of tokens; colour = split "
                         "entropy of the node, bits; grey = last level)\n" + title_of(report),
                         fontsize=9)
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes[:, 0], shrink=0.6,
                 label="split entropy (bits)")
    save(fig, prefix, "tree")


def plot_balance(report, prefix):
    depth = report["depth"]
    rows, labels = [], []
    for layer, tree in trees(report):
        rows.append([lv.get("split_entropy_bits", float("nan")) for lv in tree["levels"][:depth]])
        labels.append(f"layer {layer}" + (f" tree {tree['tree']}" if report["trees"] > 1 else ""))
    if depth == 0:
        print("depth 0: no splits, no balance picture", file=sys.stderr)
        return
    fig, ax = plt.subplots(figsize=(1.2 + 0.55 * depth, 0.9 + 0.38 * len(rows)))
    im = ax.imshow(rows, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    for i, row in enumerate(rows):
        for j, x in enumerate(row):
            ax.text(j, i, f"{x:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if x < 0.6 else "black")
    ax.set_xticks(range(depth))
    ax.set_xticklabels([str(l) for l in range(depth)], fontsize=8)
    ax.set_xlabel("level (root = 0)")
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_title("Split entropy per level (bits; 1 = halves)\n" + title_of(report), fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.8)
    save(fig, prefix, "balance")


def plot_classes(report, prefix):
    if report.get("classes", 0) == 0:
        return
    items = list(trees(report))
    names = CLASS_NAMES.get(report.get("glue_task", "").lower().replace("-", ""))
    fig, axes = plt.subplots(len(items), 1, figsize=(11, 1.2 + 1.05 * len(items)), squeeze=False,
                             constrained_layout=True)
    last = None
    norm = None
    for ax, (layer, tree) in zip(axes[:, 0], items):
        cl = tree["class_leaf_visits"]
        share = [[c / max(1, sum(row)) for c in row] for row in cl]
        if norm is None:  # one scale for every layer; sqrt to show small shares
            vmax = max(max(r) for r in share) or 1
            norm = colors.PowerNorm(gamma=0.5, vmin=0, vmax=vmax)
        last = ax.imshow(share, cmap="magma", norm=norm, aspect="auto",
                         interpolation="nearest")
        ax.set_yticks(range(len(cl)))
        ax.set_yticklabels([names[c] if names else f"class {c}" for c in range(len(cl))],
                           fontsize=7)
        ax.set_xticks([])
        label = f"layer {layer}" + (f", tree {tree['tree']}" if report["trees"] > 1 else "")
        ax.set_title(f"{label}: I(leaf; class) = {tree['leaf_label_mi_bits']:.3f} bits "
                     f"of H(class) = {tree['label_entropy_bits']:.3f}", fontsize=8)
    axes[-1, 0].set_xlabel(f"leaf (0 .. {2 ** report['depth'] - 1}, left to right)")
    fig.suptitle("Share of each class's tokens reaching each leaf\n" + title_of(report),
                 fontsize=9)
    fig.colorbar(last, ax=axes[:, 0], shrink=0.6,
                 label="share of the class's tokens (sqrt scale)")
    save(fig, prefix, "classes")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("report", help="JSON written by `fff routes -o`")
    ap.add_argument("-o", "--prefix", required=True, help="output path prefix")
    args = ap.parse_args()
    with open(args.report) as f:
        report = json.load(f)
    plot_tree(report, args.prefix)
    plot_balance(report, args.prefix)
    plot_classes(report, args.prefix)


if __name__ == "__main__":
    main()
