"""The VGGish network on a random-weights checkpoint in the official layout."""

from __future__ import annotations

import numpy as np
import pytest

import vggish
from ravdess_prep.embedders import VGGishEmbedder, VGGishFiles
from ravdess_prep.exceptions import ModelFileError
from vggish import InputError, params
from vggish.files import check_checkpoint_layout
from vggish.frontend import waveform_to_examples
from vggish.model import VGGish
from vggish.testing import write_random_checkpoint


@pytest.fixture(scope="module")
def examples():
    rng = np.random.default_rng(7)
    return waveform_to_examples(rng.uniform(-0.5, 0.5, 16000 * 20), 16000, hop_seconds=0.23)[:70]


#: Examples per run of the module's model: every run computes a whole batch, so a small one keeps
#: the many small calls here cheap; splitting, padding and reordering act the same at any size
#: (``test_batch_sizes_agree`` compares sizes 1, 7 and 64 with it).
BATCH = 16


@pytest.fixture(scope="module")
def relu_model(random_checkpoint):
    with VGGish(random_checkpoint, fc2_activation="relu", batch_size=BATCH) as model:
        yield model


def _numpy_vggish(checkpoint, example, *, fc2_relu):
    """The network as the spec describes it, in plain numpy, for one example [96, 64]."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(checkpoint))
    weight = lambda name: reader.get_tensor(f"vggish/{name}").astype(np.float64)  # noqa: E731

    def conv(x, name):  # 3x3, stride 1, SAME, ReLU; x [H, W, C]
        padded = np.pad(x, ((1, 1), (1, 1), (0, 0)))
        h, w, _ = x.shape
        patches = np.stack([padded[i : i + h, j : j + w] for i in range(3) for j in range(3)], axis=2)
        kernel = weight(f"{name}/weights").reshape(-1, weight(f"{name}/weights").shape[-1])
        return np.maximum(patches.reshape(h, w, -1) @ kernel + weight(f"{name}/biases"), 0)

    def pool(x):  # 2x2, stride 2 (dimensions are even, so SAME adds nothing)
        h, w, c = x.shape
        return x.reshape(h // 2, 2, w // 2, 2, c).max(axis=(1, 3))

    x = example.astype(np.float64)[:, :, None]
    x = pool(conv(x, "conv1"))
    x = pool(conv(x, "conv2"))
    x = pool(conv(conv(x, "conv3/conv3_1"), "conv3/conv3_2"))
    x = pool(conv(conv(x, "conv4/conv4_1"), "conv4/conv4_2"))
    x = x.reshape(-1)  # row-major over (height 6, width 4, channels 512)
    x = np.maximum(x @ weight("fc1/fc1_1/weights") + weight("fc1/fc1_1/biases"), 0)
    x = np.maximum(x @ weight("fc1/fc1_2/weights") + weight("fc1/fc1_2/biases"), 0)
    x = x @ weight("fc2/weights") + weight("fc2/biases")
    return np.maximum(x, 0) if fc2_relu else x


def test_graph_matches_a_numpy_forward_pass(random_checkpoint, relu_model, examples):
    ours = relu_model.embed(examples[:2])
    for index in range(2):
        expected = _numpy_vggish(random_checkpoint, examples[index], fc2_relu=True)
        np.testing.assert_allclose(ours[index], expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    assert (ours > 0).any() and (ours == 0).any()


@pytest.mark.parametrize("n", [0, 1, 5, 70])
def test_output_shape_and_dtype(relu_model, examples, n):
    out = relu_model.embed(examples[:n])
    assert out.shape == (n, 128) and out.dtype == np.float32


def test_relu_release_is_the_current_release_clipped_at_zero(random_checkpoint, relu_model, examples):
    with VGGish(random_checkpoint, fc2_activation=None, batch_size=BATCH) as linear:
        raw = linear.embed(examples)
    assert (raw < 0).any()
    np.testing.assert_array_equal(relu_model.embed(examples), np.maximum(raw, 0))


def test_batch_sizes_agree(random_checkpoint, relu_model, examples):
    examples = examples[:20]  # batches of 1, a remainder of 6, and one batch larger than the input
    reference = relu_model.embed(examples)
    for batch_size in (1, 7, 64, 128):  # 128: the default
        with VGGish(random_checkpoint, batch_size=batch_size) as model:
            np.testing.assert_allclose(model.embed(examples), reference, rtol=1e-4, atol=1e-4)


def test_embedding_does_not_depend_on_the_calls_it_is_split_into(relu_model, examples):
    whole = relu_model.embed(examples)
    parts = np.concatenate([relu_model.embed(examples[:3]), relu_model.embed(examples[3:50]),
                            relu_model.embed(examples[50:])])
    np.testing.assert_array_equal(parts, whole)
    np.testing.assert_array_equal(relu_model.embed(examples[::-1]), whole[::-1])


def test_model_serves_many_calls_without_rebuilding(relu_model, examples):
    graph_size = len(relu_model._graph.get_operations())
    first = relu_model.embed(examples[:3])
    for _ in range(5):  # every call runs a whole fixed-shape batch: a few calls show the graph does not grow
        relu_model.embed(examples[:3])
    assert len(relu_model._graph.get_operations()) == graph_size  # the graph is finalized
    np.testing.assert_array_equal(relu_model.embed(examples[:3]), first)


def test_embed_rejects_bad_shapes_and_closed_models(random_checkpoint, examples):
    model = VGGish(random_checkpoint)
    with pytest.raises(InputError, match=r"\(n, 96, 64\)"):
        model.embed(np.zeros((3, 64, 96)))
    with model:
        pass
    with pytest.raises(InputError, match="closed"):
        model.embed(examples[:1])


@pytest.mark.parametrize("kwargs, message", [
    ({"fc2_activation": "tanh"}, "fc2_activation"),
    ({"batch_size": 0}, "batch_size"),
])
def test_invalid_model_parameters(random_checkpoint, kwargs, message):
    with pytest.raises(InputError, match=message):
        VGGish(random_checkpoint, **kwargs)


def test_incompatible_checkpoints_name_every_bad_variable(tmp_path, vggish_shared_dir):
    shapes = dict(params.VARIABLE_SHAPES)
    del shapes["vggish/fc2/biases"]
    shapes["vggish/conv1/weights"] = (3, 3, 1, 32)
    shapes["vggish/conv2/weights"] = (3, 3, 32, 128)
    bad = write_random_checkpoint(tmp_path / "bad.ckpt", shapes=shapes)
    pca = vggish_shared_dir / "vggish_pca_params.npz"
    for attempt in (lambda: check_checkpoint_layout(bad),
                    lambda: VGGishEmbedder().model_files(VGGishFiles(bad, pca, allow_custom_checkpoint=True)),
                    lambda: VGGishEmbedder().model_files(VGGishFiles(bad, pca))):
        with pytest.raises((ModelFileError, vggish.ModelFileError)) as caught:
            attempt()
        message = str(caught.value)
        assert str(bad) in message and "3 variables" in message
        assert "missing vggish/fc2/biases [128]" in message
        assert "vggish/conv1/weights has shape [3, 3, 1, 32], expected [3, 3, 1, 64]" in message
        assert "vggish/conv2/weights has shape [3, 3, 32, 128], expected [3, 3, 64, 128]" in message
    with pytest.raises(vggish.ModelFileError, match="the checkpoint cannot be restored") as caught:
        VGGish(bad)  # the model itself, given a file nobody checked
    assert str(bad) in str(caught.value)


@pytest.mark.parametrize("case", ["truncated", "missing", "not a checkpoint"])
def test_unreadable_checkpoints(random_checkpoint, vggish_shared_dir, tmp_path, case):
    path = tmp_path / "model.ckpt"
    if case == "truncated":
        with open(random_checkpoint, "rb") as stream:
            path.write_bytes(stream.read(1 << 20))
        expected = "not a readable TensorFlow checkpoint"
    elif case == "not a checkpoint":
        path.write_text("hello")
        expected = "not a readable TensorFlow checkpoint"
    else:
        expected = "no such checkpoint file"
    files = VGGishFiles(path, vggish_shared_dir / "vggish_pca_params.npz", allow_custom_checkpoint=True)
    with pytest.raises(ModelFileError, match=expected) as caught:
        VGGishEmbedder().model_files(files)
    assert str(path) in str(caught.value)
    with pytest.raises(vggish.ModelFileError, match="cannot be restored") as caught:
        VGGish(path)
    assert str(path) in str(caught.value)
