"""Every control has a name a screen reader can say (WCAG 4.1.2), in Voila: the explorer's template
names ipywidgets' icon-only Play buttons and ties each slider handle to its label, and a log
slider's handle announces its value (T = 1), not its exponent (0). The slider's readout and the
explorer's readout write the same digits."""

import pytest

from harness.voila import js_errors, new_page, open_explorer, open_tab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HANDLES_JS = """() => Array.from(document.querySelectorAll('[role=slider]')).map(h => ({
  label: h.getAttribute('aria-label'), text: h.getAttribute('aria-valuetext'),
  readout: (h.closest('.widget-slider, .jupyter-widget-slider')?.querySelector('.widget-readout')?.textContent
            || '').trim(),
  temperature: !!h.closest('.explorer-temperature')}))"""
PLAY_JS = """() => Array.from(document.querySelectorAll('.widget-play button'))
  .map(b => b.getAttribute('aria-label'))"""


def test_sliders_and_play_buttons_have_names(server, browser):
    errors, failed = [], []
    page = new_page(browser, server, errors, width=1280, height=720)
    try:
        open_explorer(page, server)
        # the template names them as the widgets appear (one animation frame later)
        page.wait_for_function(f"() => ({HANDLES_JS})().every(h => h.label && h.text === h.readout)",
                               timeout=30_000)
        handles = page.evaluate(HANDLES_JS)
        assert len(handles) >= 4
        for h in handles:
            assert h["label"], h
            assert h["text"] == h["readout"], h
        temperature = [h for h in handles if h["temperature"]]
        assert [h["label"] for h in temperature] == ["Temperature T"]
        assert float(temperature[0]["text"]) == 1.0      # the value, not log10(T) = 0
        # the slider's readout and the numbers' readout say the same digits
        assert f"T = {temperature[0]['readout']}" in page.inner_text(".explorer-readout")
        open_tab(page, "explorer", "Hold q", "pg_handles")
        page.wait_for_function("() => document.querySelectorAll('.widget-play button[aria-label]').length >= 2",
                               timeout=30_000)
        names = page.evaluate(PLAY_JS)
        assert "Play" in names and "Stop" in names and None not in names, names
        assert js_errors(errors, failed, server) == []
    finally:
        page.close()
