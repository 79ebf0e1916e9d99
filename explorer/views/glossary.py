"""The explorers' glossary: every technical word on screen, explained in plain words, in one place.

One source of truth, :data:`TERMS`: key -> :class:`Term` (the name as typeset on screen, a plain
explanation a student can follow, and the patterns that find the word in a text). What uses it:

* :func:`annotate` wraps the first use of each term in an HTML text in
  ``<abbr class='glossary-term' data-term=KEY title=EXPLANATION>``: hovering the word explains it;
* :func:`glossary_html` is a "What do these words mean?" line (a ``<details>`` element: a keyboard
  reaches and opens it, a screen reader reads it) listing the terms of a text with their explanations;
* :func:`explain` is both: what every plot caption (:func:`explorer.views.common.explained`), the
  readouts (:func:`explorer.views.html.readout_html`) and the guides show.

The explanations follow docs/physics.md (signs, definitions). No widgets, no physics here.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    """A glossary entry: ``name`` (HTML, typeset as on screen), ``plain`` (the explanation in plain
    words, HTML with sub/superscripts; :func:`plain_text` for a hover title) and ``patterns`` (regular
    expressions that find the term in a caption's text)."""

    name: str
    plain: str
    patterns: tuple


def _t(name, plain, *patterns):
    return Term(name, " ".join(plain.split()), tuple(patterns))


#: Every term either explorer or a lesson figure shows, in the order a student meets them.
TERMS = {
    "free_energy": _t(
        "free energy F", """F = −T ln Z. Z sums e<sup>−energy/T</sup> over every state, so F is one number that
        summarises the whole distribution; its derivatives give the mean energy U, the entropy S and the
        heat capacity C. For the VAE (T = 1) it is F = −ln p(x).""",
        r"\bfree energ(?:y|ies)\b"),
    "entropy": _t(
        "entropy S", """How spread out a distribution is: S = −E[ln p], in nats. For units that are 0 or 1
        (the RBM) S ≥ 0. For a density over a continuous z (the VAE's q) it is a differential entropy
        and can be negative: a narrow Gaussian has S[q] &lt; 0.""",
        r"\bentrop(?:y|ies)\b", r"S\[q\]"),
    "heat_capacity": _t(
        "heat capacity C", """C = ∂U/∂T = Var(E)/T²: how fast the mean energy changes with temperature.
        A peak marks the temperature where the units order.""",
        r"\bheat\s+capacity\b"),
    "magnetisation": _t(
        "magnetisation", """The probability that a unit is on, m<sub>i</sub> = ⟨s<sub>i</sub>⟩ (a word from
        magnets, where a
        unit is a spin). A product law q is fixed by one magnetisation per unit.""",
        r"\bmagnetisations?\b"),
    "product_law": _t(
        "product law q", """A trial distribution in which every unit is independent of the others:
        q(s) = Π<sub>i</sub> m<sub>i</sub><sup>s<sub>i</sub></sup> (1 − m<sub>i</sub>)<sup>1 −
        s<sub>i</sub></sup>. It is easy to compute with, but cannot show correlations.""",
        r"\bproduct\s+laws?\b"),
    "gbf": _t(
        "Gibbs–Bogoliubov–Feynman bound", """For every trial law q, expected energy minus T times entropy
        is at least the exact free energy: F<sub>q</sub> = ⟨E⟩<sub>q</sub> − T S[q] ≥ F. The difference is T·KL(q‖p), so
        the bound is exact only when q is the true distribution.""",
        r"Gibbs[–-]Bogoliubov[–-]Feynman", r"\bGBF\b"),
    "bound": _t(
        "bound", """An approximation that can only err on one side: here an upper bound, never below the
        exact value, whatever q is. A correction to a bound is usually no longer a bound.""",
        r"\bbounds?\b"),
    "mean_field": _t(
        "mean field", """The best product law: the independent-unit distribution with the lowest F<sub>q</sub>. It
        replaces each unit's neighbours by their average (their mean field). Its F<sub>q</sub> is the mean-field
        bound.""",
        r"\bmean[- ]field\b"),
    "gap": _t(
        "gap", """How far a bound lies above the exact value: F<sub>q</sub> − F = T·KL(q‖p) for the RBM,
        −ELBO − (−ln p(x)) = KL(q(z|x)‖p(z|x)) for the VAE. Never negative.""",
        r"\bgaps?\b"),
    "kl": _t(
        "KL divergence", """KL(q‖p) = E<sub>q</sub>[ln q − ln p] measures how different q is from p: zero only when
        they are equal, positive otherwise. It is exactly the gap between a variational bound and the truth.""",
        r"\bKL\b"),
    "tap": _t(
        "TAP", """Thouless–Anderson–Palmer: mean field plus a correction for the correlations between units
        (TAP2 adds the second-order Onsager term, TAP3 the third order too). Closer to the exact F than
        mean field, but not a bound: it can fall below the exact F.""",
        r"\bTAP\d?\b", r"\bThouless"),
    "onsager": _t(
        "Onsager correction", """The order-2 term of TAP, −(β/2) Σ<sub>ij</sub> W<sub>ij</sub>²
        m<sub>i</sub>(1−m<sub>i</sub>) m<sub>j</sub>(1−m<sub>j</sub>): how
        much a unit's own influence on its neighbours, reflected back, lowers the free energy. It is the
        order-2 term of the cumulant series around the mean-field solution.""",
        r"\bOnsager\b"),
    "emf": _t(
        "EMF (TAP training)", """Training with the TAP free energy in place of the exact ln Z (Gabrié, Tramel
        and Krzakala's 'extended mean field'): no sampling, a deterministic approximation.""",
        r"\bEMF\b"),
    "reference": _t(
        "reference", """The simple distribution the expansion starts from (λ = 0): for the RBM a product law
        (the mean-field optimum, or independent units that ignore the couplings), for the VAE the
        encoder's Gaussian q(z|x).""",
        r"\breference\b"),
    "perturbation": _t(
        "perturbation λ", """V is the real energy minus the reference's; the energy H<sub>q</sub> + λV slides from the
        reference (λ = 0) to the real model (λ = 1). F(λ) is the free energy along that path.""",
        r"\bperturbation\b"),
    "cumulant": _t(
        "cumulant κ<sub>n</sub>", """The numbers that describe the distribution of V under the reference:
        κ<sub>1</sub> its mean,
        κ<sub>2</sub> its variance, κ<sub>3</sub> its skewness part, and so on. They are the coefficients of F(λ)'s
        Taylor series in λ.""",
        r"\bcumulants?\b", r"κ"),
    "series_order": _t(
        "series order K", """How many terms of F(λ)'s Taylor series in λ are kept. Order 1 is the variational
        bound; order 2 around mean field is TAP's Onsager term. More terms help only while the series
        converges.""",
        r"\borders?\s+(?:K|\d+|1\.\.K)\b", r"\border\s*K\b"),
    "diverges": _t(
        "diverges", """A series diverges when its terms grow instead of shrinking: adding orders then makes
        the value worse. It happens when F(λ) has a singularity (a zero of Z in complex λ) closer to 0 than λ.""",
        r"\bdiverges?\b", r"\bdivergent\b"),
    "effective_coupling": _t(
        "effective coupling ‖W‖/T", """The couplings enter the Boltzmann law only as W/T, so a large weight
        norm ‖W‖ acts like a low temperature (T<sub>eff</sub> ~ 1/‖W‖). The larger ‖W‖/T, the more the units are
        correlated and the larger the gap of mean field.""",
        r"\beffective\s+coupling\b", r"\bT_?eff\b"),
    "weight_norm": _t(
        "weight norm ‖W‖", """The size of all couplings together (the square root of the sum of W<sub>ij</sub>²).
        The slider rescales W to this norm and keeps the biases.""",
        r"\bweight\s+norm\b"),
    "signed_log": _t(
        "signed log axis", """An axis that shows both tiny and large differences, of either sign: distances
        from zero are drawn on a log scale, positive values above the zero line, negative ones below.""",
        r"\bsigned\s+log\b"),
    "ais": _t(
        "AIS", """Annealed importance sampling: estimates ln Z by moving random chains from a simple model
        to the real one in many small steps. Its ln Z is too low on average (a stochastic lower bound).""",
        r"\bAIS\b", r"\bannealed\s+importance\b"),
    "monte_carlo": _t(
        "Monte Carlo", """An estimate from random draws: an average over samples instead of an exact sum or
        integral. Another seed gives other draws and another value.""",
        r"\bMonte\s+Carlo\b"),
    "standard_error": _t(
        "standard error", """How much an estimate from random draws would move with other draws (another
        seed). ±2 standard errors covers the exact value about 95 % of the time, when the variance is
        finite. It measures noise, not bias.""",
        r"\bstandard\s+errors?\b", r"\bs\.e\."),
    "cd": _t(
        "CD-k", """Contrastive divergence: estimates the model term of the learning gradient with Gibbs
        chains started at the data and run for only k sweeps. Cheap, but biased toward the data.""",
        r"\bCD-(?:k|\d+)\b"),
    "pcd": _t(
        "PCD", """Persistent contrastive divergence: like CD, but the Gibbs chains continue from one update
        to the next instead of restarting at the data.""",
        r"\bPCD\b"),
    "clamped": _t(
        "clamped free energy F<sub>c</sub>(v)", """The free energy with the visible units held fixed at v and only
        the hidden units summed over; ln p(v) = (F − F<sub>c</sub>(v))/T.""",
        r"\bclamped\b"),
    "elbo": _t(
        "ELBO", """Evidence lower bound: ln p(x) ≥ ELBO. Its negative, −ELBO = E<sub>q</sub>[H] − S[q] (expected
        energy minus entropy), is the VAE's variational free energy, an upper bound on −ln p(x).""",
        r"\bELBO\b"),
    "posterior": _t(
        "posterior p(z|x)", """Which latent points z could have produced this image x, and how likely each is.
        Here it is computed exactly on a grid; the encoder's q(z|x) approximates it by a Gaussian.""",
        r"\bposterior\b"),
    "encoder": _t(
        "encoder q(z|x)", """The network that maps an image x to a Gaussian q(z|x) over the latent space: one
        shared network for all images (amortised inference).""",
        r"\bencoder\b"),
    "decoder": _t(
        "decoder p(x|z)", """The network that maps a latent point z to the probability of each pixel of x.""",
        r"\bdecoder\b"),
    "importance_weight": _t(
        "importance weight w", """w = p(x, z)/q(z|x) for a draw z ~ q. Its average over q is exactly p(x),
        so averaging weights estimates p(x); a few huge weights (a heavy tail) make that average unreliable.""",
        r"\bimportance\s+weights?\b", r"\bweights' tail\b"),
    "renyi": _t(
        "Rényi (VR) bound", """The variational Rényi family F(λ)/λ = −(1/λ) ln E<sub>q</sub>[w<sup>λ</sup>]: an
        upper bound on
        −ln p(x) for 0 &lt; λ ≤ 1, falling from −ELBO (λ → 0) to −ln p(x) (λ = 1). Past λ = 1 it is no
        longer a bound.""",
        r"\bR[ée]nyi\b", r"\bVR\b"),
    "iwae": _t(
        "IWAE", """Importance-weighted bound −L<sub>K</sub> = −E[ln (1/K) Σ<sub>k</sub> w<sub>k</sub>] with K
        draws from q: −ELBO at
        K = 1, decreasing toward −ln p(x) as K grows, slowly when the weights have a heavy tail.""",
        r"\bIWAE\b"),
    "lam_star": _t(
        "λ*", """The tail index: E<sub>q</sub>[w<sup>λ</sup>] is finite only for λ &lt; λ*, so F(λ) = −∞ from λ*
        on. It is set by
        q's narrowest direction: λ* = 1/(1 − σ²) for the smallest σ &lt; 1. The weights have a finite
        variance only when λ* &gt; 2.""",
        r"λ\*", r"\btail\s+index\b"),
    "pareto_k": _t(
        "Pareto shape k", """How heavy the tail of the importance weights is: P(w &gt; t) falls like t<sup>−1/k</sup>.
        Here it is known exactly, k = 1/λ*. Above 0.7, importance sampling is unreliable at any practical
        sample size; above 0.5 the weights' variance is infinite.""",
        r"\bPareto\s+shape\b", r"\bexact\s+k\b", r"\bk = 1/λ\*"),
    "psis": _t(
        "PSIS", """Pareto-smoothed importance sampling: fits a Pareto tail to the largest weights of the
        sample, smooths them, and reports the fitted shape k̂ as a diagnostic.""",
        r"\bPSIS\b", r"\bPareto[- ]smoothed\b"),
    "k_hat": _t(
        "k̂ (PSIS's estimate of k)", """PSIS's estimate of the tail shape k from the largest weights of this
        one sample. It sees only the part of the tail the draws reached, so it is noisy and can miss a
        heavy tail; where the exact k is known (here), trust the exact k.""",
        r"k̂"),
    "ess": _t(
        "effective sample size", """Kish's ESS, (Σw)²/Σw²: how many equally weighted draws the weighted
        sample is worth. Much smaller than the number of draws when a few weights dominate.""",
        r"\beffective\s+sample\s+size\b", r"\bESS\b"),
    "quadrature": _t(
        "quadrature", """Computing an integral exactly (to a tiny, stated error) on a grid of points instead
        of by random draws. Possible here because the latent space has only two dimensions.""",
        r"\bquadrature\b", r"\bGauss[–-]Hermite\b"),
    "amortisation_gap": _t(
        "amortisation gap", """−ELBO of the encoder's q minus −ELBO of the best diagonal Gaussian for this
        image: what one shared encoder network loses against fitting q to each image separately.""",
        r"\bamorti[sz]ation\s+gap\b", r"\bamorti[sz]"),
    "approximation_gap": _t(
        "approximation gap", """−ELBO of the best diagonal Gaussian minus the exact −ln p(x): what the
        Gaussian family itself cannot capture, however well it is fitted.""",
        r"\bapproximation\s+gap\b"),
    "full_covariance": _t(
        "full covariance", """A Gaussian q whose axes may be tilted (correlation ρ ≠ 0), unlike a diagonal one.
        The full-covariance gain is how much −ELBO it saves over the best diagonal q.""",
        r"\bfull[- ]covariance\b"),
}


#: Elements whose text is never annotated: already a term, a link, code, a heading of a glossary.
_SKIP = {"abbr", "a", "code", "summary", "dt", "dd", "sub", "sup", "style", "script", "button", "details"}
_TAG = re.compile(r"(<[^>]*>)")
_TAG_NAME = re.compile(r"^</?\s*([a-zA-Z0-9]+)")
_COMPILED = {key: [re.compile(p) for p in t.patterns] for key, t in TERMS.items()}


def _segments(text):
    """(is_tag, piece, skip) for each piece of ``text``: skip marks text inside :data:`_SKIP` elements."""
    depth = 0
    for piece in _TAG.split(text):
        if not piece:
            continue
        if piece.startswith("<"):
            m = _TAG_NAME.match(piece)
            if m and m.group(1).lower() in _SKIP and not piece.endswith("/>"):
                depth += -1 if piece.startswith("</") else 1
                depth = max(depth, 0)
            yield True, piece, depth > 0
        else:
            yield False, piece, depth > 0


_BREAKS = {"br", "div", "p", "td", "th", "tr", "li", "dt", "dd", "summary", "h1", "h2", "h3", "h4", "h5", "h6"}


def _breaks(tag):
    """Whether ``tag`` separates words (a line or a cell), unlike <b>, <sub> inside a word."""
    m = _TAG_NAME.match(tag)
    return bool(m) and m.group(1).lower() in _BREAKS


def terms_in(text):
    """The keys of :data:`TERMS` whose words occur in ``text`` (HTML; tags and attributes ignored),
    in :data:`TERMS`'s order."""
    plain = html.unescape("".join((" " if _breaks(p) else "") if is_tag else p
                                  for is_tag, p, _ in _segments(str(text))))
    return [k for k, pats in _COMPILED.items() if any(p.search(plain) for p in pats)]


_SUB = str.maketrans("0123456789+−()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ")
_SUP = str.maketrans("0123456789+−()inkt", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁽⁾ⁱⁿᵏᵗ")


def _script(text, table, mark):
    """``text`` in Unicode sub/superscripts where each character has one, else ``mark`` + (text)."""
    out = text.translate(table)
    if all(a != b or a == " " for a, b in zip(text, out)):
        return out.replace(" ", "")
    return f"{mark}{text}" if text.isalnum() else f"{mark}({text})"


def plain_text(text):
    """An explanation (HTML) as plain text for a hover title: sub/superscripts in Unicode where it has
    them (κ₂, W²), tags dropped, entities decoded."""
    t = re.sub(r"<sub>(?:<[^>]+>)*([^<]*)(?:<[^>]+>)*</sub>",
               lambda m: _script(m.group(1), _SUB, "_"), str(text))
    t = re.sub(r"<sup>((?:[^<]|<sub>[^<]*</sub>)*)</sup>",
               lambda m: _script(re.sub(r"<[^>]+>", "", m.group(1)), _SUP, "^"), t)
    return html.unescape(re.sub(r"<[^>]+>", "", t))


#: LaTeX commands of the lessons' questions and their Unicode (see :func:`math_as_text`).
_LATEX_SYMBOLS = {r"\to": "→", r"\infty": "∞", r"\approx": "≈", r"\le": "≤", r"\ge": "≥",
                  r"\leq": "≤", r"\geq": "≥", r"\lambda": "λ", r"\kappa": "κ", r"\ln": "ln",
                  r"\|": "‖", r"\times": "×", r"\cdot": "·", r"\langle": "⟨", r"\rangle": "⟩",
                  r"\mathrm": "", r"\mathbb": "", r"\,": " ", r"\;": " ", r"\quad": " ", r"\ne": "≠",
                  r"\neq": "≠", r"\sigma": "σ", r"\mu": "μ", r"\beta": "β", r"\theta": "θ", r"\ll": "≪",
                  r"\gg": "≫", r"\pm": "±", r"\sum": "Σ", r"\hat": "", r"\tilde": "", r"\bar": ""}


def math_as_text(text):
    """A question with ``$...$`` math and HTML as plain Unicode text, for a page without MathJax
    (the teacher's class board): ``$T \\to \\infty$`` → "T → ∞", ``$2^{20}$`` → "2²⁰"."""
    def one(m):
        t = m.group(1)
        for cmd in sorted(_LATEX_SYMBOLS, key=len, reverse=True):
            # a command of letters ends where its letters do (\\le is not \\left)
            end = r"(?![A-Za-z])" if cmd[-1].isalpha() else ""
            t = re.sub(re.escape(cmd) + end, _LATEX_SYMBOLS[cmd], t)
        t = re.sub(r"\^\{([^{}]*)\}|\^(\w)", lambda s: _script(s.group(1) or s.group(2), _SUP, "^"), t)
        t = re.sub(r"_\{([^{}]*)\}|_(\w)", lambda s: _script(s.group(1) or s.group(2), _SUB, "_"), t)
        return re.sub(r"\s+", " ", t.replace("{", "").replace("}", "")).strip()
    return plain_text(re.sub(r"\$([^$]+)\$", one, str(text)))


def term_text(key):
    """A term and its explanation as one line of plain text (a control's hover text)."""
    return f"{_plain_name(key)}: {plain_text(TERMS[key].plain)}"


def term(key, shown=None):
    """``shown`` (HTML; default the term's typeset name) with its explanation as a hover title."""
    t = TERMS[key]
    return (f"<abbr class='glossary-term' data-term='{key}' title='{html.escape(plain_text(t.plain), quote=True)}' "
            f"style='text-decoration:underline dotted;cursor:help'>{t.name if shown is None else shown}</abbr>")


def annotate_whole(text):
    """``text`` (HTML) wrapped whole in one ``<abbr>`` whose title explains every term in it (a
    readout's cell name: its words stay together, e.g. "series, order 3"); unchanged without terms."""
    keys = terms_in(text)
    if not keys:
        return str(text)
    title = " ".join(f"{_plain_name(k)}: {plain_text(TERMS[k].plain)}" for k in keys)
    return (f"<abbr class='glossary-term' data-term='{' '.join(keys)}' title='{html.escape(title, quote=True)}' "
            f"style='text-decoration:underline dotted;cursor:help'>{text}</abbr>")


def annotate(text):
    """``text`` (HTML) with the first use of each term wrapped by :func:`term` (hover explains it).

    Only text outside tags is changed, never inside links, code, sub/superscripts or a term already
    wrapped; a term found by several patterns is wrapped once.
    """
    done, out = set(), []
    for is_tag, piece, skip in _segments(str(text)):
        if is_tag or skip:
            out.append(piece)
            continue
        # the earliest first match of any term not yet wrapped, repeatedly, left to right
        pos, parts = 0, []
        while True:
            best = None
            for key, pats in _COMPILED.items():
                if key in done:
                    continue
                for p in pats:
                    m = p.search(piece, pos)
                    if m and m.end() > m.start() and (best is None or m.start() < best[1].start()):
                        best = (key, m)
            if best is None:
                break
            key, m = best
            parts.append(piece[pos:m.start()])
            parts.append(term(key, m.group(0)))
            done.add(key)
            pos = m.end()
        parts.append(piece[pos:])
        out.append("".join(parts))
    return "".join(out)


def glossary_html(keys, summary="What do these words mean?", open_=False, css_class="glossary"):
    """A ``<details>`` line listing the terms ``keys`` with their explanations ("" for none).

    Closed by default (one line); a click, or Enter on the focused summary, opens it.
    """
    keys = [k for k in dict.fromkeys(keys) if k in TERMS]
    if not keys:
        return ""
    names = ", ".join(_plain_name(k) for k in keys)
    items = "".join(f"<dt style='font-weight:bold;margin-top:2px'>{TERMS[k].name}</dt>"
                    f"<dd style='margin:0 0 2px 14px'>{TERMS[k].plain}</dd>" for k in keys)
    return (f"<details class='{css_class}'{' open' if open_ else ''} style='font-size:12px;line-height:1.4;"
            f"margin:2px 0'><summary style='cursor:pointer' title='{html.escape(names, quote=True)}'>"
            f"{html.escape(summary)}</summary>"
            f"<dl data-terms='{' '.join(keys)}' style='margin:2px 0'>{items}</dl></details>")


def _plain_name(key):
    return plain_text(TERMS[key].name)


def explain(text, summary="What do these words mean?"):
    """``text`` annotated (:func:`annotate`) and followed by its :func:`glossary_html` line."""
    return annotate(text) + glossary_html(terms_in(text), summary)


def guide_html(text, *screen_texts):
    """An explorer's Guide tab: ``text`` annotated, then a glossary of every term that ``text`` and
    ``screen_texts`` (the explorer's captions, readout labels, tab texts) use."""
    words = terms_in(" ".join([str(text), *map(str, screen_texts)]))
    return annotate(text) + glossary_html(words, "Glossary: every technical word of this explorer, in plain words",
                                          css_class="glossary glossary-guide")


__all__ = ["TERMS", "Term", "annotate", "annotate_whole", "explain", "glossary_html", "guide_html", "plain_text",
           "term", "term_text", "terms_in"]
