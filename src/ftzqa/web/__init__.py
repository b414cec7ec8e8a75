"""The web page. Pure parts (``render``, ``followup``, ``uploads``, ``service``) import no Gradio;
``ui`` builds the Gradio page and is the only module that imports it."""
