"""Curvature: the time of an exact Hessian-vector product against the gradient's
(target: at most 2.5x), and against PyTorch's torch.func.jvp(grad) in the same run
when torch is importable, on W1, W2 and W4 (see test_epoch.py) over SAMPLES
Fashion-MNIST images; and Hessian-free training against SGD and momentum on MNIST
8k/2k, the accuracy each reached recorded beside its wall time.

ratios.py pairs each nnfast row with its baselines: for group "hvp", the "gradient"
row is nnfast's own gradient, so its 'speed-up' is gradient time / HVP time (>= 0.4
meets the target); for group "hessian-free", the rows carry the accuracy reached.
"""
import numpy as np
import pytest

import nnfast
from nnfast import ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer, datasets

SAMPLES = 1000
NETS = {
    "W1": dict(layers=lambda: [FullyConnectedLayer(784, 30), FullyConnectedLayer(30, 10)],
               cost="quadratic"),
    "W2": dict(layers=lambda: [FullyConnectedLayer(784, 100), FullyConnectedLayer(100, 10)],
               cost="cross-entropy"),
    "W4": dict(layers=lambda: [ConvPoolLayer((20, 1, 5, 5), (1, 28, 28), (2, 2)),
                               FullyConnectedLayer(2880, 100), SoftmaxLayer(100, 10)],
               cost="log-likelihood"),
}

try:
    import torch
except ImportError:
    torch = None
IMPLS = ["nnfast", "gradient"] + (["torch"] if torch is not None else [])


@pytest.fixture(scope="module")
def fashion(fashion_dir):
    data = datasets.load_fashion_mnist(fashion_dir, download=False)
    return data.X_train[:SAMPLES], data.y_train[:SAMPLES]


def nnfast_net(spec):
    net = nnfast.Network(spec["layers"](), cost=spec["cost"], seed=0)
    rng = np.random.default_rng(1)
    for w in net.weights:  # network3 starts the softmax layer at zero
        w[...] = rng.standard_normal(w.shape) / np.sqrt(np.prod(w.shape[1:]))
    return net


def direction(net):
    rng = np.random.default_rng(2)
    return ([rng.standard_normal(w.shape).astype(np.float32) for w in net.weights],
            [rng.standard_normal(b.shape).astype(np.float32) for b in net.biases])


def nnfast_hvp(spec, X, y, threads):
    net = nnfast_net(spec)
    v = direction(net)
    return lambda: net.hessian_vector_product((X, y), v, n_threads=threads)


def nnfast_gradient(spec, X, y, threads):
    net = nnfast_net(spec)
    return lambda: net.gradient((X, y), n_threads=threads)


def torch_hvp(spec, X, y, threads):
    """The same network and cost in torch, Hv = jvp(grad(C), (params,), (v,))."""
    net = nnfast_net(spec)
    modules = []
    for layer in net.layers:
        if isinstance(layer, ConvPoolLayer):
            f, c, kh, kw = layer.filter_shape
            modules += [torch.nn.Conv2d(c, f, (kh, kw)), torch.nn.MaxPool2d(layer.poolsize),
                        torch.nn.Sigmoid()]
        else:
            if not any(isinstance(m, torch.nn.Linear) for m in modules):
                modules.append(torch.nn.Flatten())
            modules.append(torch.nn.Linear(layer.n_in, layer.n_out))
            modules.append(torch.nn.Softmax(dim=1) if isinstance(layer, SoftmaxLayer)
                           else torch.nn.Sigmoid())
    model = torch.nn.Sequential(*modules)
    names = [name for name, _ in model.named_parameters()]
    params = tuple(torch.from_numpy(np.ascontiguousarray(p)) for pair in
                   zip(net.weights, net.biases) for p in (pair[0], pair[1].reshape(-1)))
    v_w, v_b = direction(net)
    v = tuple(torch.from_numpy(np.ascontiguousarray(p)) for pair in zip(v_w, v_b)
              for p in (pair[0], pair[1].reshape(-1)))
    shape = (-1, 1, 28, 28) if isinstance(net.layers[0], ConvPoolLayer) else (-1, 784)
    Xt = torch.from_numpy(X).reshape(shape)
    Yt = torch.nn.functional.one_hot(torch.from_numpy(y), 10).float()

    def cost(*p):
        a = torch.func.functional_call(model, dict(zip(names, p)), (Xt,))
        if spec["cost"] == "quadratic":
            return 0.5 * ((a - Yt) ** 2).sum() / len(a)
        if spec["cost"] == "cross-entropy":
            return torch.nn.functional.binary_cross_entropy(a, Yt, reduction="sum") / len(a)
        return -(torch.log(a) * Yt).sum() / len(a)

    gradient = torch.func.grad(cost, argnums=tuple(range(len(params))))

    def hvp():
        torch.set_num_threads(threads)
        return torch.func.jvp(gradient, params, v)[1]
    return hvp


RUNS = {"nnfast": nnfast_hvp, "gradient": nnfast_gradient, "torch": torch_hvp}


@pytest.mark.benchmark(group="hvp")
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("net", sorted(NETS))
def test_hessian_vector_product(benchmark, record, fashion, net, threads, impl):
    X, y = fashion
    record(net=net, threads=threads, impl=impl, samples_per_call=SAMPLES)
    benchmark.pedantic(RUNS[impl](NETS[net], X, y, threads), rounds=5, iterations=1,
                       warmup_rounds=1)


# ---- Hessian-free against SGD and momentum: accuracy reached against wall time ----

EPOCHS = 10
OPTIMISERS = {
    "nnfast": lambda net, train: net.hessian_free(train, EPOCHS, 1000, lmbda=1.0,
                                                  cg_iterations=20, progress=False),
    "sgd": lambda net, train: net.SGD(train, EPOCHS, 10, 0.5, lmbda=1.0, progress=False),
    "momentum": lambda net, train: net.SGD(train, EPOCHS, 10, 0.1, lmbda=1.0, momentum=0.9,
                                           progress=False),
}


@pytest.mark.benchmark(group="hessian-free")
@pytest.mark.parametrize("impl", sorted(OPTIMISERS))
def test_hessian_free_against_sgd(benchmark, record, mnist_dir, impl):
    """[784, 30, 10], cross-entropy, MNIST's first 8,000 t10k images to train, the last
    2,000 to score; 'nnfast' is Hessian-free."""
    X, y = datasets.load_mnist_test(mnist_dir)
    train, test = (X[:8000], y[:8000]), (X[8000:], y[8000:])
    nets = []

    def run():
        net = nnfast.Network([784, 30, 10], seed=0)
        OPTIMISERS[impl](net, train)
        nets.append(net)

    benchmark.pedantic(run, rounds=1, iterations=1)
    record(impl=impl, epochs=EPOCHS, accuracy=nets[-1].accuracy(test) / len(test[0]))
