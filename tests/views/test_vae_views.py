"""The VAE views alone: plain arrays in, finite data out, figures built once."""

from __future__ import annotations

import numpy as np

from explorer.views.vae.explorer import ElboView, IwaeView, LatentView, PosteriorLambdaView, TemperatureView


def test_views_drop_non_finite_values_and_keep_their_models():
    p, lat, t, k, e = PosteriorLambdaView(), LatentView(), TemperatureView(), IwaeView(), ElboView()
    before = {id(m) for v in (p, lat, t, k, e) for m in v.layout.references()}
    lam = np.linspace(0, 1.5, 7)
    exact = np.array([0.0, 1, 2, 3, 4, -np.inf, -np.inf])
    mc, se = np.arange(7.0), np.array([0.1, 0.1, 0.1, np.nan, np.nan, np.nan, np.nan])
    p.show_lambda_curves(lam, exact, exact / np.where(lam > 0, lam, 1), mc, se, np.vstack([exact] * 8), 3, 1.05)
    assert len(p.sources["lam_exact"].data["x"]) == 5 and p.sources["lam_series"].data["order"] == [1, 2, 3]
    assert p.lam_critical.location == 1.05
    # every Monte Carlo point is drawn, error bars only where the variance is finite, and the note says why
    assert len(p.sources["lam_mc"].data["x"]) == 7 and p.sources["lam_mc_err"].data["x"].tolist() == [0.0, 0.25, 0.5]
    assert "no error bar" in p.mc_note.text and "0.75" in p.mc_note.text
    # the VR curve is a bound on (0, 1] only: λ = 0 left out, the part past 1 drawn apart
    assert p.sources["lam_vr"].data["x"].tolist() == [0.25, 0.5, 0.75, 1.0]
    assert p.sources["lam_vr_past"].data["x"].tolist() == [1.0]   # -inf past λ*: dropped
    p.show_lambda_curves(lam, exact, exact, exact, np.zeros(7), np.vstack([exact] * 8), 1, np.inf)
    assert p.lam_critical.location > 1e6                    # off the axis, not NaN
    lat.show_latents(np.array([[0.0, 1.0], [np.nan, 0.0]]), np.array([3, 4]), np.arange(2))
    assert lat.sources["latent"].data["index"] == [0]
    lat.show_selected([0.0, 1.0], "<b>#0</b>", np.eye(8), np.full((8, 8), np.nan))
    assert np.isfinite(lat.sources["reconstruction"].data["image"][0]).all()
    t.show_curves(np.array([0.5, 1.0, 2.0]), np.array([1.0, np.nan, 3.0]), np.ones(3))
    assert t.sources["t_exact"].data["x"].tolist() == [0.5, 2.0]
    k.show([1, 10], [5.0, 4.0], [0.1, np.nan], 3.5, note="no error bars")
    assert k.sources["iwae"].data["x"].tolist() == [1.0, 10.0] and k.sources["iwae_err"].data["x"].tolist() == [1.0]
    assert k.note.text == "no error bars"
    e.show({"neg_elbo": 5.0, "free_energy": np.nan}, {"neg_elbo": (5.1, 0.1)})
    assert e.sources["elbo_bars"].data["value"] == [5.0]
    assert {id(m) for v in (p, lat, t, k, e) for m in v.layout.references()} == before


def test_labels_call_a_bound_a_bound_only_where_it_is_one():
    p = PosteriorLambdaView()
    labels = [it.label.value for it in p.fig_lambda.legend[0].items]
    assert "Rényi (VR) bound F(λ)/λ, 0 < λ ≤ 1" in labels
    assert "F(λ)/λ past λ = 1: not a bound" in labels
    assert not any("bound" in lab and "past" not in lab and "0 < λ" not in lab and "Rényi" in lab for lab in labels)
