"""Pictures of the autograd graph, like torchviz: ``make_dot(loss, params=dict(model.named_parameters()))``.

One node per op (its grad_fn name, and the shapes of what it saved for backward), one box per leaf tensor
(named from ``params`` when given). Returns a ``graphviz.Digraph`` when the optional ``graphviz`` package is
installed (``pip install minigrad[viz]``; rendering needs Graphviz's ``dot`` program), else the DOT source as
a string, which any Graphviz tool can render.
"""
from __future__ import annotations


def _shape(t) -> str:
    return "(" + ", ".join(map(str, t.shape)) + ")"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def make_dot(output, params: dict | None = None, show_saved: bool = True, max_attr_chars: int = 50):
    """The graph that produced ``output`` (a Tensor or a sequence of Tensors), as Graphviz."""
    outputs = tuple(output) if isinstance(output, (tuple, list)) else (output,)
    names = {id(t): name for name, t in (params or {}).items()}
    nodes, edges = [], []
    seen = set()

    def leaf_node(t) -> str:
        key = f"leaf{id(t)}"
        if key not in seen:
            seen.add(key)
            label = f"{names.get(id(t), '')}\n{_shape(t)}".strip()
            nodes.append(f"{key} [label={_quote(label)} fillcolor=lightblue]")
        return key

    stack = []
    for out in outputs:
        key = f"out{id(out)}"
        nodes.append(f"{key} [label={_quote(_shape(out))} fillcolor=darkolivegreen1]")
        if out.grad_fn is not None:
            edges.append((f"fn{id(out.grad_fn)}", key))
            stack.append(out.grad_fn)
        else:
            edges.append((leaf_node(out), key))
    while stack:
        fn = stack.pop()
        key = f"fn{id(fn)}"
        if key in seen:
            continue
        seen.add(key)
        label = fn.name()
        if show_saved:
            shapes = [_shape(s) for s in (fn.saved or ()) if hasattr(s, "shape")]
            if shapes:
                text = ", ".join(shapes)
                label += "\nsaved: " + (text if len(text) <= max_attr_chars else text[:max_attr_chars - 3] + "...")
        nodes.append(f"{key} [label={_quote(label)} fillcolor=lightgrey]")
        for parent in fn.parents or ():
            if parent.grad_fn is not None:
                edges.append((f"fn{id(parent.grad_fn)}", key))
                stack.append(parent.grad_fn)
            elif parent.requires_grad:
                edges.append((leaf_node(parent), key))
    return _render(nodes, edges)


def _render(nodes: list, edges: list):
    body = ["digraph {", '  graph [size="12,12"]',
            '  node [shape=box style=filled align=left fontsize=10 ranksep=0.1 height=0.2 fontname=monospace]']
    body += [f"  {n}" for n in nodes] + [f"  {a} -> {b}" for a, b in dict.fromkeys(edges)]
    source = "\n".join(body + ["}"]) + "\n"
    try:
        import graphviz
    except ImportError:
        return source
    return graphviz.Source(source)
