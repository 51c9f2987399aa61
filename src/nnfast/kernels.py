"""nnfast's compiled kernels, for tests, benchmarks and power users.

Each takes float32 or float64 NumPy arrays with any strides, validates them once
(raising TypeError/ValueError that name the argument), and runs in C with the GIL
released. `out=` writes into a caller's array; an out that overlaps an input is
handled as if the input had been copied first. `n_threads=` (matmul, the elementwise,
convolution, pooling and dropout kernels) sets the threads of one call; None means
nnfast.get_num_threads(), whichever Python thread calls.

conv2d is the valid cross-correlation, PyTorch's convention (Theano's conv2d, which
the book's network3 used, flips the kernel: conv2d(x, w[..., ::-1, ::-1]) is Theano's
conv2d(x, w)). maxpool2d's argmax is each window's first maximum.
"""
from nnfast._kernels import (
    add_bias,
    all_finite,
    col2im,
    column_sums,
    conv2d,
    conv2d_backward,
    dropout,
    hadamard,
    im2col,
    l2pool2d,
    l2pool2d_backward,
    matmul,
    maxpool2d,
    maxpool2d_backward,
    relu,
    relu_prime,
    sigmoid,
    sigmoid_prime,
    sigmoid_prime_from_output,
    softmax,
    sparse_matmul,
    tanh,
    tanh_prime_from_output,
)

__all__ = [
    "add_bias",
    "all_finite",
    "col2im",
    "column_sums",
    "conv2d",
    "conv2d_backward",
    "dropout",
    "hadamard",
    "im2col",
    "l2pool2d",
    "l2pool2d_backward",
    "matmul",
    "maxpool2d",
    "maxpool2d_backward",
    "relu",
    "relu_prime",
    "sigmoid",
    "sigmoid_prime",
    "sigmoid_prime_from_output",
    "softmax",
    "sparse_matmul",
    "tanh",
    "tanh_prime_from_output",
]
