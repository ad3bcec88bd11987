"""The reference package follows ../shared/API.md for modules 01-09: names, homes, signatures."""
import inspect

import numpy as np
import pytest

import tinytorch_lib

# name -> (module, the signature API.md gives, without self)
CONTRACT = {
    "Tensor": ("tensor", "(data, requires_grad=False)"),
    "zeros": ("tensor", "(*shape)"), "ones": ("tensor", "(*shape)"), "randn": ("tensor", "(*shape)"),
    "manual_seed": ("tensor", "(seed)"),
    "ReLU": ("activations", "()"), "Sigmoid": ("activations", "()"), "Tanh": ("activations", "()"),
    "GELU": ("activations", "()"), "Softmax": ("activations", "(dim=-1)"),
    "Module": ("layers", None), "Linear": ("layers", "(in_features, out_features, bias=True)"),
    "Sequential": ("layers", "(*modules)"), "Dropout": ("layers", "(p=0.5)"), "Flatten": ("layers", None),
    "MSELoss": ("losses", "()"), "CrossEntropyLoss": ("losses", "()"), "BCELoss": ("losses", "()"),
    "BCEWithLogitsLoss": ("losses", "()"),
    "no_grad": ("autograd", None),
    "SGD": ("optim", "(params, lr, momentum=0, weight_decay=0)"),
    "Adam": ("optim", "(params, lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0)"),
    "AdamW": ("optim", "(params, lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.01)"),
    "clip_grad_norm_": ("training", "(parameters, max_norm)"),
    "CosineAnnealingLR": ("training", "(optimizer, T_max, eta_min=0)"),
    "Trainer": ("training", "(model, loss_fn, optimizer, scheduler=None)"),
    "Dataset": ("data", None), "TensorDataset": ("data", "(*tensors)"),
    "DataLoader": ("data", "(dataset, batch_size=1, shuffle=False, drop_last=False)"),
    "load_digits": ("data", "(flatten=False)"), "random_split": ("data", "(dataset, lengths)"),
    "read_idx": ("data", "(path)"), "load_cifar10_batch": ("data", "(path)"),
    "Conv2d": ("spatial", "(in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True)"),
    "MaxPool2d": ("spatial", "(kernel_size, stride=None)"), "AvgPool2d": ("spatial", "(kernel_size, stride=None)"),
    "CharTokenizer": ("tokenization", "(text)"), "BPETokenizer": ("tokenization", "(vocab_size)"),
    "Embedding": ("embeddings", "(num_embeddings, embedding_dim)"),
    "PositionalEncoding": ("embeddings", "(max_len, d_model)"),
    "scaled_dot_product_attention": ("attention", "(q, k, v, attn_mask=None, is_causal=False)"),
    "MultiHeadAttention": ("attention", "(embed_dim, num_heads, bias=True, causal=False)"),
    "LayerNorm": ("transformer", "(normalized_shape, eps=1e-5)"),
    "TransformerBlock": ("transformer", "(d_model, num_heads, mlp_ratio=4, dropout=0.0)"),
    "GPT": ("transformer", "(vocab_size, d_model, num_heads, num_layers, max_len)"),
}
METHODS = {
    "Tensor": ["numel", "numpy", "item", "detach", "sum", "mean", "max", "reshape", "transpose", "permute",
               "exp", "log", "sqrt", "backward", "__getitem__", "__matmul__", "__rmatmul__", "__radd__",
               "__rsub__", "__rmul__", "__rtruediv__", "__neg__", "__pow__"],
    "Module": ["__call__", "forward", "parameters", "train", "eval", "zero_grad", "state_dict", "load_state_dict"],
    "SGD": ["step", "zero_grad"], "Adam": ["step", "zero_grad"], "AdamW": ["step", "zero_grad"],
    "CosineAnnealingLR": ["step", "get_last_lr"],
    "Trainer": ["fit", "evaluate", "save", "load"],
    "DataLoader": ["__iter__", "__len__"], "TensorDataset": ["__getitem__", "__len__"],
    "Conv2d": ["__call__", "forward", "parameters"], "MaxPool2d": ["forward"], "AvgPool2d": ["forward"],
    "CharTokenizer": ["encode", "decode"], "BPETokenizer": ["train", "encode", "decode"],
    "Embedding": ["forward", "parameters"], "PositionalEncoding": ["forward"], "MultiHeadAttention": ["forward"],
    "LayerNorm": ["forward", "parameters"], "TransformerBlock": ["forward"], "GPT": ["forward", "parameters"],
}


def parameters(obj) -> list[tuple]:
    """(name, kind, default) of each parameter, without self."""
    target = obj.__init__ if inspect.isclass(obj) else obj
    params = list(inspect.signature(target).parameters.values())
    if inspect.isclass(obj):
        params = params[1:]
    return [(p.name, p.kind, p.default) for p in params]


def contract_parameters(text: str) -> list[tuple]:
    return parameters(eval(f"lambda {text[1:-1]}: None"))


@pytest.mark.parametrize("name", CONTRACT)
def test_name_lives_in_its_module_and_at_the_root(name):
    module_name, expected = CONTRACT[name]
    module = getattr(tinytorch_lib, module_name)
    obj = getattr(module, name)
    assert getattr(tinytorch_lib, name) is obj, f"{name} at the root is not {module_name}.{name}"
    assert name in module.__all__ and name in tinytorch_lib.__all__
    if expected is not None:
        # API.md's parameters come first, with its names and defaults (0 == 0.0); extra keyword
        # options may follow.
        got, want = parameters(obj), contract_parameters(expected)
        assert got[: len(want)] == want, f"{name}: {got} does not start like API.md's {name}{expected}"


@pytest.mark.parametrize("cls", METHODS)
def test_methods(cls):
    obj = getattr(tinytorch_lib, cls)
    missing = [m for m in METHODS[cls] if not callable(getattr(obj, m, None))]
    assert not missing, f"{cls} lacks {missing}"


def test_tensor_properties_and_full_reductions():
    t = tinytorch_lib.Tensor([[1.0, 2.0], [3.0, 4.0]])
    assert isinstance(t.data, np.ndarray) and t.shape == (2, 2) and t.ndim == 2 and t.dtype == np.float32
    assert t.T.shape == (2, 2) and t.requires_grad is False and t.grad is None
    assert t.sum().shape == () and t.max().item() == 4.0


def test_every_module_is_generated_in_course_order():
    modules = [tinytorch_lib.tensor, tinytorch_lib.activations, tinytorch_lib.layers, tinytorch_lib.losses,
               tinytorch_lib.autograd, tinytorch_lib.optim, tinytorch_lib.training, tinytorch_lib.data,
               tinytorch_lib.spatial]
    for m in modules:
        assert "Generated by tito" in open(m.__file__).readline()
