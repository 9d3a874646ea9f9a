"""Interactive explorer: feature maps, Grad-CAM and saliency of the book's models on any image.

    XAI_DATA_ROOT=../shared/data make explorer       # then open http://localhost:8501

The logic lives in ``xaihelpers.explorer`` (unit-tested); this script is the page around it.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import streamlit as st  # noqa: E402

from xaihelpers import data, explorer, images, imagenet, plotting  # noqa: E402

st.set_page_config(page_title="XAI explorer", layout="wide")
st.title("XAI explorer: inside an image classifier")


@st.cache_resource(show_spinner="Loading the model (once)...")
def cached_model(key: str) -> explorer.ExplorerModel:
    return explorer.load_model(key)


choices = explorer.model_choices()
with st.sidebar:
    model_key = st.selectbox("Model", list(choices), format_func=choices.get, key="model")
    source = st.radio("Image", ["sample", "upload"], horizontal=True, key="source")

try:
    model = cached_model(model_key)
except (imagenet.ModelUnavailableError, FileNotFoundError, OSError) as error:
    st.error(f"This model cannot be loaded here: {error}")
    st.stop()

image_source = None
with st.sidebar:
    if source == "sample":
        try:
            samples = explorer.sample_images(model.key)
        except data.DatasetNotFoundError as error:
            st.warning(str(error))
            samples = {}
        if samples:
            sample = st.selectbox("Sample image", list(samples), key="sample")
            image_source = samples[sample]
    else:
        upload = st.file_uploader("Upload an image", key="upload")
        if upload is not None:
            image_source = upload.getvalue()
    layer = st.selectbox("Layer", list(model.layers), index=list(model.layers).index(model.default_layer),
                         key="layer")
    method = st.radio("Method", explorer.VIEWS, key="method")

st.caption(model.description)
if image_source is None:
    st.info("Pick a sample image or upload one (PNG, JPEG, TIFF, ...) in the sidebar.")
    st.stop()

try:
    prepared = explorer.prepare_image(image_source, model)
except images.ImageLoadError as error:
    st.error(f"That file cannot be used: {error} Try another image.")
    st.stop()
for note in prepared.notes:
    st.info(f"Note: {note}.")

top = explorer.predict(model, prepared, k=5)
left, right = st.columns([1, 2])
with left:
    st.image(prepared.display, caption="what the model sees", clamp=True, width="stretch")
    st.subheader("Prediction")
    st.table({"class": [name for _, name, _ in top], "probability": [f"{p:.3f}" for _, _, p in top]})

with right:
    if method == "feature maps":
        maps, channels = explorer.feature_maps(model, prepared, layer)
        figure = plotting.image_grid(list(maps), [f"channel {c}" for c in channels], ncols=4, size=1.6,
                                     cmap="viridis", suptitle=f"{layer}: the 16 most active channels")
        st.pyplot(figure)
        plt.close(figure)
    else:
        chosen = st.selectbox("Explain class", [f"{name} ({p:.3f})" for _, name, p in top], key="class")
        class_index = top[[f"{name} ({p:.3f})" for _, name, p in top].index(chosen)][0]
        if method == "Grad-CAM":
            heat = explorer.grad_cam_map(model, prepared, layer, class_index)
            title = f"Grad-CAM at {layer}"
        else:
            heat = explorer.saliency_map(model, prepared, class_index)
            title = "saliency (layer not used)"
        figure = plotting.image_grid([heat, plotting.overlay(prepared.display, heat)], [title, "overlay"],
                                     ncols=2, size=3.2, cmap=plotting.HEATMAP_CMAP)
        st.pyplot(figure)
        plt.close(figure)
        st.markdown(f"<span id='heatmap-ready'>{method} map for class {chosen}</span>", unsafe_allow_html=True)
