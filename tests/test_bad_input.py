"""Bad input that test_network.py, test_convnet.py and test_datasets.py do not already
try: chapter 6's networks fed the wrong images, kinds of numbers NumPy holds but a
network cannot use, dropout probabilities of every wrong kind, and model files whose
error must say which file and what in it is wrong. Each error names the argument, and
the network is left exactly as it was."""
import json

import numpy as np
import pytest

import nnfast
from nnfast import ConvPoolLayer, FullyConnectedLayer, Network, ReLU, SoftmaxLayer
from nnfast.book import network2


def conv_net(p_dropout=0.0, seed=0):
    # 1x8x8 images, 2 filters of 3x3, 2x2 pooling: 2*3*3 = 18 features.
    return Network([ConvPoolLayer((2, 1, 3, 3), (1, 8, 8), (2, 2), ReLU),
                    FullyConnectedLayer(18, 6, p_dropout=p_dropout),
                    SoftmaxLayer(6, 3, p_dropout=p_dropout)], dtype=np.float64, seed=seed)


def images(n, seed=1):
    rng = np.random.default_rng(seed)
    return rng.random((n, 64)), rng.integers(0, 3, n)


def snapshot(net):
    """Every parameter and velocity, plus the state of the generator SGD draws from."""
    return ([a.copy() for a in net._w + net._b + net._vw + net._vb],
            net._rng.bit_generator.state)


def assert_unchanged(net, before):
    arrays, state = snapshot(net)
    assert all(np.array_equal(a, b) for a, b in zip(before[0], arrays)), "parameters changed"
    assert state == before[1], "SGD drew from the network's generator"


# --- images that do not fit the conv layer ---------------------------------------------

WRONG_IMAGES = {
    "NCHW images": lambda: np.zeros((4, 1, 8, 8)),
    "HW images": lambda: np.zeros((4, 8, 8)),
    "one image too few pixels": lambda: np.zeros((4, 63)),
    "two channels": lambda: np.zeros((4, 128)),
    "9x9 images": lambda: np.zeros((4, 81)),
    "one flat image": lambda: np.zeros(64),
}


@pytest.mark.parametrize("name", list(WRONG_IMAGES))
def test_conv_net_refuses_images_of_the_wrong_shape_to_sgd(name):
    net = conv_net()
    before = snapshot(net)
    with pytest.raises(ValueError, match=r"^training_data must have shape \(N, 64\)"):
        net.SGD((WRONG_IMAGES[name](), np.zeros(4, np.int64)), 1, 2, 0.1)
    assert_unchanged(net, before)


@pytest.mark.parametrize("name", list(WRONG_IMAGES))
def test_conv_net_refuses_evaluation_images_of_the_wrong_shape_before_training(name):
    net = conv_net()
    before = snapshot(net)
    with pytest.raises(ValueError, match=r"^evaluation_data must have shape \(N, 64\)"):
        net.SGD(images(8), 1, 2, 0.1, evaluation_data=(WRONG_IMAGES[name](),
                                                         np.zeros(4, np.int64)),
                monitor_evaluation_accuracy=True)
    assert_unchanged(net, before)


@pytest.mark.parametrize("name", list(WRONG_IMAGES))
def test_conv_net_refuses_images_of_the_wrong_shape_to_evaluation(name):
    net = conv_net()
    before = snapshot(net)
    for call, argument in ((net.feedforward, "x"), (net.predict, "X")):
        with pytest.raises(ValueError, match=rf"^{argument} must have shape \(N, 64\)"):
            call(WRONG_IMAGES[name]())
    with pytest.raises(ValueError, match=r"^data must have shape \(N, 64\)"):
        net.accuracy((WRONG_IMAGES[name](), np.zeros(4, np.int64)))
    assert_unchanged(net, before)


def test_conv_net_with_mini_batch_larger_than_the_data_trains_one_short_batch():
    # As the book does: the data is one mini-batch, dropout included. A mini_batch_size
    # of 1000 on 7 images trains exactly as a mini_batch_size of 7.
    X, y = images(7)
    a, b = conv_net(p_dropout=0.3, seed=3), conv_net(p_dropout=0.3, seed=3)
    a.SGD((X, y), 2, 1000, 0.5)
    b.SGD((X, y), 2, 7, 0.5)
    for x, z in zip(snapshot(a)[0], snapshot(b)[0]):
        assert np.array_equal(x, z)
    assert not all(np.array_equal(x, z) for x, z in zip(snapshot(a)[0], snapshot(conv_net(0.3, 3))[0]))


# --- numbers a network cannot use ------------------------------------------------------

UNUSABLE = {
    "complex X": (lambda X: X.astype(complex), None, "must hold real numbers"),
    "datetime X": (lambda X: X.astype("M8[s]"), None, "must hold real numbers"),
    "timedelta X": (lambda X: X.astype("m8[s]"), None, "must hold real numbers"),
    "bytes X": (lambda X: X.astype("S4"), None, "must hold real numbers"),
    "complex labels": (None, lambda y: y.astype(complex), "labels must be integers"),
    "object labels": (None, lambda y: y.astype(object), "labels must be integers"),
    "datetime labels": (None, lambda y: y.astype("M8[s]"), "labels must be integers"),
}


@pytest.mark.parametrize("name", list(UNUSABLE))
def test_data_of_unusable_kinds_is_a_type_error_naming_the_argument(name):
    to_x, to_y, what = UNUSABLE[name]
    X, y = images(8)
    X, y = (to_x or (lambda v: v))(X), (to_y or (lambda v: v))(y)
    net = conv_net()
    before = snapshot(net)
    with pytest.raises(TypeError, match=f"^training_data {what}"):
        net.SGD((X, y), 1, 2, 0.1)
    assert_unchanged(net, before)


def test_float16_and_uint8_images_are_converted_not_refused():
    X, y = images(8)
    pixels = (X * 255).astype(np.uint8)
    a, b, c = conv_net(seed=4), conv_net(seed=4), conv_net(seed=4)
    a.SGD((pixels, y), 1, 4, 0.1)
    b.SGD((pixels.astype(np.float64), y), 1, 4, 0.1)
    c.SGD((X.astype(np.float16), y), 1, 4, 0.1)
    for x, z in zip(snapshot(a)[0], snapshot(b)[0]):
        assert np.array_equal(x, z)
    assert all(np.isfinite(w).all() for w in c.weights)


# --- layers ---------------------------------------------------------------------------

@pytest.mark.parametrize("p", [float("nan"), float("inf"), -float("inf"), -1e-12, 1, 1.0 + 1e-12,
                               "0.5", None, True, [0.5], complex(0.5)])
@pytest.mark.parametrize("layer", [FullyConnectedLayer, SoftmaxLayer])
def test_p_dropout_outside_zero_to_one_is_refused_by_name(layer, p):
    with pytest.raises(ValueError, match=r"^p_dropout must be in \[0, 1\)"):
        layer(3, 2, p_dropout=p)


@pytest.mark.parametrize("make,match", [
    (lambda: ConvPoolLayer((2, 1, 3, 3), (1, 8)), "^image_shape must be a tuple of 3"),
    (lambda: ConvPoolLayer((2, 1, 3, 3), (1, 8, 8, 8, 8)), "^image_shape must be a tuple of 3"),
    (lambda: ConvPoolLayer((2, 1, 3, 3), "1x8x8"), "^image_shape must be a tuple of 3"),
    (lambda: ConvPoolLayer((2, 1, 3.0, 3), (1, 8, 8)), r"^filter_shape\[2\] must be a positive"),
    (lambda: ConvPoolLayer((2, 1, 3, 3), (1, 0, 8)), r"^image_shape\[1\] must be a positive"),
    (lambda: ConvPoolLayer((2, 1, 3, 3), (1, 8, 8), (2,)), "^poolsize must be a tuple of 2"),
    (lambda: FullyConnectedLayer(0, 2), "^n_in must be a positive int"),
    (lambda: FullyConnectedLayer(3, 2.5), "^n_out must be a positive int"),
    (lambda: Network([FullyConnectedLayer(3, 3)] * 40), "at most 16 layers, got 40"),
    (lambda: Network([ConvPoolLayer((2, 1, 3, 3), (1, 8, 8)), FullyConnectedLayer(18, 4),
                      ConvPoolLayer((1, 1, 1, 1), (1, 2, 2), (1, 1)), SoftmaxLayer(4, 2)]),
     "convolutional layers come first"),
], ids=["image-2d", "image-5d", "image-string", "filter-float", "image-zero", "pool-1d",
        "n_in-zero", "n_out-float", "too-many-layers", "conv-after-dense"])
def test_layers_that_cannot_be_built_or_chained(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_a_layer_list_with_something_else_in_it_names_the_item():
    # Today the list is taken for a list of sizes and the message speaks of sizes[0],
    # which the caller never wrote: it should name the item that is not a layer.
    with pytest.raises(TypeError, match=r"layers\[1\]|sizes_or_layers\[1\]"):
        Network([FullyConnectedLayer(3, 3), "a layer"])


# --- model files: the error names the file and what is wrong ----------------------------

def _record():
    return {"sizes": [3, 2], "weights": [[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]],
            "biases": [[[0.1], [-0.1]]], "cost": "QuadraticCost"}


def _with(**changes):
    record = _record()
    for key, value in changes.items():
        if value is None:
            del record[key]
        else:
            record[key] = value
    return json.dumps(record)


@pytest.mark.parametrize("text,match", [
    (_with()[:-20], "not a network file"),
    ("weights: 1", "not a network file"),
    ("[]", "expected a JSON object"),
    (_with(cost="CrossEntropy"), "cost must be one of"),
    (_with(cost="__import__('os').system('true')"), "cost must be one of"),
    (_with(weights=[[[0.1, 0.2], [0.4, 0.5]]]), r"weights\[0\] must have shape \(2, 3\), got \(2, 2\)"),
    (_with(biases=[[0.1, -0.1]]), r"biases\[0\] must have shape \(2, 1\), got \(2,\)"),
    (_with(weights=[]), "weights must be a list of 1 matrices"),
    (_with(weights=[[[{}, 0.2, 0.3], [0.4, 0.5, 0.6]]]), r"weights\[0\] is not a matrix of numbers"),
    (_with(weights=[[[0.1, float("nan"), 0.3], [0.4, 0.5, 0.6]]]), r"weights\[0\] holds NaN"),
    (_with(biases=[[[float("-inf")], [0.0]]]), r"biases\[0\] holds NaN"),
    (_with(momentum=0.9), r"keys .*got \[.*'momentum'"),
    (_with(cost=None), r"keys \['biases', 'cost', 'sizes', 'weights'\]"),
    (_with(weights=None), r"keys \['biases', 'cost', 'sizes', 'weights'\]"),
    (_with(dtype="int8"), "dtype must be float32 or float64"),
], ids=["truncated", "not-json", "not-an-object", "unknown-cost", "code-as-cost",
        "weights-shape", "biases-shape", "weights-count", "object-weight", "nan", "inf",
        "extra-key", "missing-cost", "missing-weights", "bad-dtype"])
def test_bad_model_file_error_names_the_file_and_the_problem(tmp_path, text, match):
    path = tmp_path / "model.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=match) as error:
        nnfast.load(path)
    if "cost" not in match:  # see the next test
        assert "model.json" in str(error.value)


def test_bad_model_file_cost_error_names_the_file(tmp_path):
    # The unknown-cost error comes from resolve_cost and does not say which file.
    path = tmp_path / "model.json"
    path.write_text(_with(cost="CrossEntropy"))
    with pytest.raises(ValueError, match="model.json"):
        nnfast.load(path)


def test_a_string_where_a_weight_belongs_is_refused(tmp_path):
    # NumPy turns "0.1" into 0.1, so today the file loads; neither Network.save nor the
    # book's network2 writes strings there, and "every value is checked" should hold.
    path = tmp_path / "model.json"
    path.write_text(_with(weights=[[["0.1", 0.2, 0.3], [0.4, 0.5, 0.6]]]))
    with pytest.raises(ValueError, match=r"model.json: weights\[0\] is not a matrix of numbers"):
        nnfast.load(path)


@pytest.mark.parametrize("tamper,match", [
    (lambda r: r["layers"][0].update(c=2), "inconsistent layer spec|input channels"),
    (lambda r: r["layers"][0].update(h=7, n_in=49), "does not divide"),
    (lambda r: r["layers"][0].update(extra=1), "spec has the keys"),
    (lambda r: r["layers"].pop(), r"weights must be a list of 2|LogLikelihoodCost needs"),
    (lambda r: r["weights"][0][0][0][0].__setitem__(0, [1.0]), r"weights\[0\]"),
    (lambda r: r.update(sizes=[64, 3]), "keys"),
], ids=["channels", "image-not-pooled", "extra-spec-key", "missing-layer", "ragged-filter",
        "sizes-and-layers"])
def test_conv_model_file_with_layers_that_do_not_fit(tmp_path, tamper, match):
    net = conv_net()
    path = tmp_path / "conv.json"
    net.save(path)
    record = json.loads(path.read_text())
    tamper(record)
    path.write_text(json.dumps(record))
    with pytest.raises(ValueError, match=match):
        nnfast.load(path)


def test_one_input_column_with_a_zero_stride_is_read_as_a_column():
    net = nnfast.Network([1, 4, 2], seed=0)
    x = np.linspace(-1, 1, 7)
    assert np.array_equal(net.feedforward(x[:, None]), net.feedforward(x.reshape(-1, 1).copy()))


# --- what an adversarial review found (hardening II) -----------------------------------

@pytest.mark.parametrize("sizes", [{784, 30, 10}, {784: 30, 10: 1}, frozenset({3, 2})])
def test_sizes_without_an_order_are_refused(sizes):
    with pytest.raises(TypeError, match="^sizes must be a list"):
        Network(sizes)


@pytest.mark.parametrize("seed,error", [(-1, ValueError), (1.5, TypeError), ("7", TypeError),
                                        (True, TypeError)])
def test_bad_seeds_are_refused_by_name(seed, error):
    with pytest.raises(error, match="^seed must be"):
        Network([4, 3, 2], seed=seed)


def test_a_network_larger_than_the_machine_is_refused_by_name():
    with pytest.raises(ValueError, match="parameters.*GiB"):
        Network([2**62, 2])
    with pytest.raises(ValueError, match="parameters.*GiB"):
        Network([784, 2_000_000_000, 10])


@pytest.mark.parametrize("name,value", [("eta", 10**400), ("lmbda", 10**400),
                                        ("momentum", -10**400)])
def test_huge_ints_are_value_errors_naming_the_argument(name, value):
    net = Network([64, 5, 3], seed=0)
    before = snapshot(net)
    kwargs = {"eta": 0.1, name: value}
    with pytest.raises(ValueError, match=f"^{name} must be"):
        net.SGD(images(8), 1, 2, **kwargs)
    assert_unchanged(net, before)


@pytest.mark.parametrize("n_threads", [100_000, 2**31, 0])
def test_thread_counts_beyond_the_bound_are_refused_before_training(n_threads):
    net = Network([64, 5, 3], seed=0)
    before = snapshot(net)
    with pytest.raises(ValueError, match="^n_threads must be"):
        net.SGD(images(8), 1, 2, 0.1, n_threads=n_threads)
    assert_unchanged(net, before)


@pytest.mark.parametrize("flag", ["monitor_evaluation_cost", "monitor_evaluation_accuracy",
                                  "early_stopping_n"])
def test_evaluation_monitors_without_evaluation_data_are_refused(flag):
    net = Network([64, 5, 3], seed=0)
    before = snapshot(net)
    with pytest.raises(ValueError, match=f"{flag} need evaluation_data"):
        net.SGD(images(8), 1, 2, 0.1, **{flag: 3 if flag == "early_stopping_n" else True})
    assert_unchanged(net, before)


MONITOR_FLAGS = ["monitor_training_cost", "monitor_training_accuracy",
                 "monitor_evaluation_cost", "monitor_evaluation_accuracy"]


@pytest.mark.parametrize("flag", MONITOR_FLAGS + ["monitor_gradient_norms"])
@pytest.mark.parametrize("value", ["no", "False", None, 2])
def test_monitor_flags_take_only_true_or_false(flag, value):
    """"no" and "False" are true: taken by their truth they would monitor, or ask for
    evaluation data, where the caller meant not to."""
    net = Network([64, 5, 3], seed=0)
    before = snapshot(net)
    with pytest.raises(TypeError, match=f"^{flag} must be True or False"):
        net.SGD(images(8), 1, 2, 0.1, **{flag: value})
    assert_unchanged(net, before)


@pytest.mark.parametrize("flag", MONITOR_FLAGS)
def test_the_books_monitor_flags_take_only_true_or_false(flag):
    net = network2.Network([64, 5, 3], seed=0)
    before = [w.copy() for w in net.weights]
    X, y = images(8)
    with pytest.raises(TypeError, match=f"^{flag} must be True or False"):
        net.SGD(list(zip(X.reshape(8, 64, 1), np.eye(3)[y, :, None])), 1, 2, 0.1,
                **{flag: "no"})
    assert all(np.array_equal(a, b) for a, b in zip(before, net.weights))


def test_unaligned_input_is_copied_before_anything_changes():
    raw = np.zeros(8 * 64 * 4 + 1, np.uint8)[1:].view(np.float32).reshape(8, 64)
    raw[...] = images(8)[0]
    assert not raw.flags.aligned and raw.flags.c_contiguous
    net, twin = Network([64, 5, 3], seed=0), Network([64, 5, 3], seed=0)
    labels = images(8)[1]
    net.SGD((raw, labels), 1, 2, 0.1)
    twin.SGD((np.ascontiguousarray(raw), labels), 1, 2, 0.1)
    assert all(np.array_equal(a, b) for a, b in zip(net.weights, twin.weights))


def test_ragged_book_pairs_are_refused_by_position():
    from nnfast.book import network2
    net = network2.Network([4, 3, 2], seed=0)
    pairs = [(np.zeros((4, 1)), np.array([[1.0], [0.0]])), (np.zeros((3, 1)), np.array([[0.0], [1.0]]))]
    with pytest.raises(ValueError, match=r"training_data\[1\]\[0\] must hold 4 values"):
        net.SGD(pairs, 1, 1, 0.1)
    with pytest.raises(TypeError, match=r"training_data\[0\] must be an \(x, y\) pair"):
        net.SGD([np.zeros((4, 1))], 1, 1, 0.1)
    # labels: an int, then a list; a one-hot list of rows of different lengths
    with pytest.raises(ValueError, match=r"^data\[1\]\[1\] must be a label, as data\[0\]"):
        net.network.accuracy([(np.zeros((4, 1)), 1), (np.zeros((4, 1)), [1, 0])])
    with pytest.raises(ValueError, match=r"^data\[0\]\[0\] must be an array: its rows"):
        net.network.accuracy([([[0.0, 0.0], [0.0, 0.0, 0.0]], 1)])


@pytest.mark.parametrize("y", [11, -1, 2.0, np.zeros((3, 1))])
def test_book_backprop_refuses_a_label_outside_the_outputs(y):
    from nnfast.book import network
    net = network.Network([4, 3, 2], seed=0)
    with pytest.raises(ValueError, match="^y must be a label in"):
        net.backprop(np.zeros((4, 1)), y)


def test_load_refuses_booleans_among_the_weights(tmp_path):
    path = tmp_path / "net.json"
    Network([3, 2], seed=0).save(path)
    record = json.loads(path.read_text())
    record["weights"][0][1][2] = True
    path.write_text(json.dumps(record))
    with pytest.raises(ValueError, match=r"weights\[0\] is not a matrix of numbers"):
        nnfast.load(path)


def test_load_stops_parsing_a_file_with_more_numbers_than_its_sizes_call_for(tmp_path):
    import tracemalloc
    path = tmp_path / "net.json"
    # The header says [3, 2]; the weights are a 2 x 300,000 matrix (about 3 MB of text).
    path.write_text(json.dumps({"sizes": [3, 2], "cost": "CrossEntropyCost",
                                "weights": [[[0.123456] * 300_000] * 2],
                                "biases": [[[0.0], [0.0]]]}))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="more numbers than its sizes or layers call for"):
            nnfast.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Parsing it all would hold 600,000 floats in lists: over 20 MB.
    assert peak < 3 * path.stat().st_size, f"{peak / 2**20:.1f} MiB while loading"


@pytest.mark.parametrize("change, error, match", [
    (dict(decay_n=0), ValueError, "^decay_n must be >= 1"),
    (dict(shuffle="no"), TypeError, "^shuffle must be True or False, got 'no'"),
    (dict(whole_batches_only=2), TypeError, "^whole_batches_only must be True or False"),
])
def test_sgd_config_names_its_fields(change, error, match):
    with pytest.raises(error, match=match):
        nnfast.SGDConfig(1, 10, 0.5, **change)
    assert nnfast.SGDConfig(1, 10, 0.5, shuffle=np.bool_(False)).shuffle is False
    assert nnfast.SGDConfig(1, 10, 0.5, whole_batches_only=1).whole_batches_only is True
