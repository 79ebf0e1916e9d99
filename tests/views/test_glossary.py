"""The glossary (explorer/views/glossary.py): every technical word on screen has a plain explanation,
shown where the word stands (hover title, "What do these words mean?" line), and the readouts write
notation typeset, as the captions do."""

from __future__ import annotations

import re

import pytest

from explorer.views import glossary
from explorer.views.common import explained
from explorer.views.glossary import TERMS, annotate, explain, glossary_html, plain_text, terms_in

#: The words a student meets on the explorers' screens (issue 25's list and the rest of the jargon):
#: each must be found by a glossary entry.
JARGON = ["TAP", "TAP2", "TAP3", "Gibbs–Bogoliubov–Feynman", "Onsager", "reference", "effective coupling",
          "cumulant", "κ", "order K", "series of order 4", "PSIS", "k̂", "exact k", "Pareto shape",
          "effective sample size", "IWAE", "Rényi", "VR", "λ*", "ELBO", "KL", "amortisation gap",
          "approximation gap", "full covariance", "mean field", "AIS", "Monte Carlo", "standard errors",
          "magnetisation", "perturbation", "signed log axis", "CD-1", "CD-k", "PCD", "EMF", "clamped",
          "quadrature", "Gauss–Hermite", "posterior", "encoder", "decoder", "importance weights", "entropy",
          "S[q]", "weight norm", "diverges", "free energy", "heat capacity", "product law"]


def _captions():
    from explorer.views import lessons
    from explorer.views.rbm import explorer as rbm
    from explorer.views.rbm import hold_q as rbm_hold_q
    from explorer.views.rbm import learning
    from explorer.views.vae import explorer as vae
    from explorer.views.vae import hold_q as vae_hold_q

    for module in (rbm, rbm_hold_q, learning, vae, vae_hold_q, lessons):
        for key, text in module.EXPLANATIONS.items():
            yield f"{module.__name__}.{key}", text


def _visible(html):
    """The words a reader sees: tags and their attributes (the hover titles) dropped."""
    return re.sub(r"<[^>]+>", "", html)


def test_every_word_a_student_meets_has_an_entry():
    for word in JARGON:
        assert terms_in(word), word


def test_entries_are_plain_words_with_typeset_notation():
    for key, t in TERMS.items():
        assert t.name and t.patterns and len(t.plain) > 40, key
        # notation is typeset (<sub>, <sup>), never the raw text of the code
        assert not re.search(r"E_q\[|F_q\b|F_T\b|w\^|κ_\d|m_i\b", t.plain), key
        # and the hover title, plain text, has no markup
        assert not re.search(r"<[a-z/]", plain_text(t.plain)), key


def test_pareto_entries_say_which_k_to_trust():
    assert "trust the exact k" in TERMS["k_hat"].plain
    assert "negative" in TERMS["entropy"].plain and "S ≥ 0" in TERMS["entropy"].plain


def test_every_caption_explains_its_words_where_it_stands():
    seen = set()
    for where, text in _captions():
        html = explained(text, 400).children[0].text
        keys = terms_in(text)
        seen.update(keys)
        if not keys:
            continue
        listed = re.search(r"data-terms='([^']*)'", html).group(1).split()
        assert listed == keys, where
        # each term is underlined (hover) at its first use, and the caption's words are unchanged
        assert {k for k in re.findall(r"data-term='([^']*)'", html)} <= set(keys), where
        assert _visible(annotate(text)) == _visible(text), where
        assert "<details class='glossary'" in html and "<summary" in html, where
    # the captions use the words, and each of them is explained
    assert {"tap", "gbf", "onsager", "reference", "cumulant", "psis", "k_hat", "iwae", "renyi", "lam_star",
            "elbo", "kl", "amortisation_gap", "approximation_gap"} <= seen


def test_annotate_leaves_markup_links_and_formulas_alone():
    html = "<b>TAP</b> <a href='x'>PSIS</a> F<sub>TAP2</sub> and the <code>KL</code>, then KL and TAP again"
    out = annotate(html)
    assert out.count("glossary-term") == 2                 # TAP (first use) and the KL outside <code>
    assert "<a href='x'>PSIS</a>" in out and "F<sub>TAP2</sub>" in out and "<code>KL</code>" in out
    assert _visible(out) == _visible(html)


def test_glossary_line_is_reachable_by_keyboard_and_screen_readers():
    line = glossary_html(["tap", "psis"])
    # <details>/<summary>: focusable, opened with Enter or Space, announced as a disclosure
    assert line.startswith("<details") and "<summary" in line and "<dl" in line and "<dd" in line
    assert glossary_html([]) == "" and explain("no jargon here") == "no jargon here"


def test_glossary_is_the_one_source():
    """The explorers, the readouts and the lessons' figures use this module, not copies of it."""
    import inspect

    from explorer.views import common, html

    assert "glossary" in inspect.getsource(common.explained)
    assert "glossary" in inspect.getsource(html.readout_html)
    assert glossary.__all__


# ------------------------------------------------------------------ the readouts, typeset and explained
@pytest.fixture(scope="module")
def explorers():
    from explorer.app.rbm.explorer import RBMExplorer
    from explorer.app.vae.explorer import VAEExplorer

    return RBMExplorer(query="", prefetch=False), VAEExplorer(query="", prefetch=False)


RAW = re.compile(r"E_q\[|F_T\b|w\^|\^λ|_q\b")


def test_readouts_typeset_their_notation(explorers):
    for app in explorers:
        html = app.w_readout.value
        assert not RAW.search(_visible(html)), _visible(html)
        assert "glossary-term" in html
    vae = explorers[1].w_readout.value
    assert "F<sub>T</sub>" in vae and "E<sub>q</sub>[H]" in vae and "E<sub>q</sub>[w<sup>λ</sup>]" in vae


def test_readout_words_are_listed_under_the_readout_and_stay_put(explorers):
    rbm, vae = explorers
    for app, keys in ((rbm, {"mean_field", "tap", "effective_coupling", "series_order"}),
                      (vae, {"elbo", "kl", "iwae", "lam_star", "monte_carlo"})):
        words = app.w_readout_words.value
        assert keys <= set(re.search(r"data-terms='([^']*)'", words).group(1).split())
    # a new temperature changes the numbers, not the words: the list (maybe opened) is not rewritten
    before = rbm.w_readout_words.value
    rbm.w_temperature.value = 0.5012
    rbm.flush()
    assert "0.5012" in rbm.w_readout.value and rbm.w_readout_words.value is before


def test_guides_hold_the_whole_glossary(explorers):
    from explorer.views.rbm.explorer import EXPLANATIONS as RBM
    from explorer.views.vae.explorer import EXPLANATIONS as VAE

    for app, captions in zip(explorers, (RBM, VAE)):
        guide = app.w_guide.value
        listed = set(re.search(r"data-terms='([^']*)'", guide).group(1).split())
        for text in captions.values():
            assert set(terms_in(text)) <= listed
        assert set(terms_in(app.w_readout.value)) <= listed


def test_weights_tab_and_temperature_tab_explain_k_and_a_negative_entropy():
    import numpy as np

    from explorer.views.vae.explorer import EXPLANATIONS, ImportanceWeightView

    v = ImportanceWeightView()
    lw = np.random.default_rng(0).normal(size=5000)
    # the exact k says unreliable, PSIS's k̂ usable: the tab says why, and which to trust
    v.show(lw, 1.02, 0.979, 0.388, 1200.0, 25.0, 25.1, 25.2, reliable=True, k_threshold=0.7)
    text = _visible(v.diagnostics.text)
    assert "Why they disagree" in text and "Trust the exact k" in text and "k̂ = 0.388" in text
    v.show(lw, 1.02, 0.979, 0.9, 1200.0, 25.0, 25.1, 25.2, reliable=False, k_threshold=0.7)
    assert "agrees with the exact k" in _visible(v.diagnostics.text)
    assert "negative" in EXPLANATIONS["temperature"] and "S ≥ 0" in EXPLANATIONS["temperature"]
