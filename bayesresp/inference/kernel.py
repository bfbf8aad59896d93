"""nutpie's fast path: the model's log density and gradient as compiled Numba loops.

The PyMC model (:mod:`bayesresp.model`) defines the model. For nutpie, the default
sampler, the same log density and its gradient are also written out here by hand, in
the same unconstrained parameters (PyMC's value variables, in PyMC's order; but the
r2d2 prior's R2 and shares, which the kernel samples as each component's log variance
ratio, :func:`_r2d2_coordinates`, and hierarchically centred terms' level means), as
Numba functions compiled with ``cache=True``: they are compiled once per machine and loaded
from Numba's disk cache in a second or less by every later process, where PyMC's graph
takes 10-15 s to compile in every process (nutpie's callbacks for a PyTensor graph
cannot be cached).

The rows are packed for speed (:func:`bayesresp.inference.packing.pack`): in blocks by
outcome level, so that a level's cutpoint terms are constants of its block; the design by
column, dummies as int8. Each block is processed in chunks of rows that stay in the L1
cache: linear predictors, likelihood and derivatives, the coefficients' gradient. LLVM
vectorises these loops (their ``exp``, ``log``, ``log1p`` and ``erfcx`` are branch-free
versions, :mod:`bayesresp.maths.vector_numba`; ``erfcx`` within 6e-16, the others within
2 ulp of NumPy's), so a logit gradient costs about 16 ns per row, a third of PyMC's
compiled graph (on the development machine, with AVX-512), the same at 10,000 and 50,000
rows; a probit one about 2.4 times as much
(:func:`bayesresp.maths.links_numba.probit_interval_wide`), the other links' more (their
intervals call libm one row at a time).
The per-row log-likelihood stored with a fit goes through the same packed rows
(:func:`log_likelihood`).

Tests hold the two together (``tests/inference/test_kernel.py``): at random points, for
twenty-five models covering every link, every prior family (the r2d2 prior in both its
forms, with several components, one, and none), mo() terms, uncorrelated and correlated
slopes, one to three group terms, no covariates and no groups, the log density and the
gradient equal those PyMC compiles from the model, to rounding, and at |eta| = 50 for
every link; the hierarchically centred form (:func:`_centred_level`) is checked against
the non-centred one by the change of variables, and the C callback nutpie calls against
the kernel, bit for bit. Correlated varying slopes take the Cholesky factor of their
correlation matrix in PyMC's CholeskyCorrTransform (:func:`_lkj_factor`). Models the
kernel does not cover (the coders' layer) are sampled through PyMC's graph, as are the
other samplers. ``mo()`` terms enter the rows as indicator columns, one per step, whose
coefficients are the total effect times the step's share.

The design and priors arrive packed (:mod:`bayesresp.inference.packing`, plain NumPy,
which also holds the header layout the C callback reads); nutpie's model object is made in
:mod:`bayesresp.inference.nutpie_adapter`. Only this module compiles Numba code, with the
links' Numba twins (:mod:`bayesresp.maths.links_numba`) and the branch-free elementary
functions (:mod:`bayesresp.maths.vector_numba`) it inlines; a guard
(:mod:`bayesresp.inference.kernel_cache`) recompiles when any of those files changed.
"""

from __future__ import annotations

import functools
import math
import sys

import numpy as np
from numba import carray, cfunc, njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from bayesresp.inference import kernel_cache, packing
from bayesresp.inference.packing import (  # the layout the compiled code reads
    _DATA_ORDER,
    _H_BCOL,
    _H_BFAM,
    _H_BPAR,
    _H_CELLS,
    _H_CFAM,
    _H_CPAR,
    _H_FCOL,
    _H_G,
    _H_GMETA,
    _H_GT,
    _H_GW,
    _H_HIER,
    _H_LEN,
    _H_LINK,
    _H_MOMETA,
    _H_MOPAR,
    _H_N,
    _H_NCELL,
    _H_NDIM,
    _H_NMO,
    _H_NT,
    _H_NZ,
    _H_P,
    _H_PARENT,
    _H_PB,
    _H_PCOL,
    _H_PF,
    _H_PT,
    _H_QT,
    _H_R2D2,
    _H_RCOMP,
    _H_RNC,
    _H_RPAR,
    _H_RSCALE,
    _H_SPAR,
    _H_SUML,
    _H_T,
    _H_TMETA,
    _H_W,
    _H_WMAT,
    _H_XB,
    _H_XF,
    _H_XMEAN,
    _H_ZT,
    CUT_NORMAL,
    HALFNORMAL,
    HALFSTUDENT_T,
    NORMAL,
    Packed,
    _check_codes,
    _row_layout,
    outcome_cells,
    step_coefficients,
    step_columns,
    step_terms,
)
from bayesresp.maths import links, links_numba, vector_numba
from bayesresp.maths.families import get_family
from bayesresp.maths.links import LOGIT, PROBIT, get_link
from bayesresp.maths.links_numba import LOG_2PI, log1mexp, probit_interval
from bayesresp.maths.links_numba import dlog_pdf as link_dlog_pdf
from bayesresp.maths.links_numba import interval as link_interval
from bayesresp.maths.links_numba import log_pdf as link_log_pdf
from bayesresp.maths.links_numba import probit_interval_wide as probit_wide
from bayesresp.maths.vector_numba import vexp as _vexp
from bayesresp.maths.vector_numba import vlog1p as _vlog1p
from bayesresp.model.design import Design


# -- scalar helpers ----------------------------------------------------------------------
@njit(cache=True, nogil=True, error_model="numpy")
def _student_t(x, nu, mu, sigma):
    """(log density, derivative) of Student's t."""
    d = x - mu
    lp = (
        math.lgamma(0.5 * (nu + 1.0))
        - math.lgamma(0.5 * nu)
        - 0.5 * math.log(nu * math.pi)
        - math.log(sigma)
        - 0.5 * (nu + 1.0) * math.log1p(d * d / (nu * sigma * sigma))
    )
    return lp, -(nu + 1.0) * d / (nu * sigma * sigma + d * d)


@njit(cache=True, nogil=True, error_model="numpy")
def _sd_prior(v, family, sigma, nu, lam):
    """(log density, derivative) of a group sd's prior at v > 0."""
    if family == HALFNORMAL:
        return 0.5 * math.log(2.0 / math.pi) - math.log(sigma) - 0.5 * (v / sigma) ** 2, -v / (
            sigma * sigma
        )
    if family == HALFSTUDENT_T:
        lp, d = _student_t(v, nu, 0.0, sigma)
        return lp + math.log(2.0), d
    return math.log(lam) - lam * v, -lam


@njit(cache=True, nogil=True, error_model="numpy", fastmath=False)
def _logit_terms(P, cells, A, B, C, gap):
    """Per-cell constants of the logit likelihood from the padded cutpoints ``P``: the
    log-probability of cell k (levels ``cells[k, 0]`` to ``cells[k, 1]``, one level or
    a range) is ``gap[k] - log1p(u A[k] + B[k] / u + C[k])`` with u = exp(eta), since
    F(b) - F(a) = F(b) (1 - F(a)) (1 - exp(a - b)) for the logistic F, whose last factor
    does not depend on eta."""
    for k in range(A.shape[0]):
        lo, hi = P[cells[k, 0]], P[cells[k, 1] + 1]
        A[k] = math.exp(-hi)
        B[k] = math.exp(lo)
        C[k] = math.exp(lo - hi)
        gap[k] = log1mexp(min(lo - hi, 0.0))


# -- the rows ------------------------------------------------------------------------------
# Rows are packed by outcome level, so that each level's cutpoint terms are constants of
# a block of rows, and within a block in chunks of _CHUNK rows, whose linear predictors
# and derivatives stay in the L1 cache while every column passes over them. The loops
# over a chunk carry no dependencies but sums, and with reassociation allowed (for
# those sums) LLVM vectorises them: the design's columns, the likelihood and the
# coefficients' gradient. Only the group effects' gradient is scattered.
_CHUNK = 256
_ROW_MATH = {"reassoc", "contract"}


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_ROW_MATH)
def _eta_chunk(bb, bf, r, Xb, Xf, gT, tmeta, Zt, start, stop, eta):
    """Linear predictors of packed rows ``start`` to ``stop`` into ``eta[: stop - start]``:
    group effects ``r`` (see :func:`_rows`), then the design's columns times their
    coefficients (``bb``: the int8 columns', ``bf``: the others')."""
    m = stop - start
    for i in range(m):
        eta[i] = 0.0
    for t in range(gT.shape[0]):
        base, stride, zrow = tmeta[t, 0], tmeta[t, 1], tmeta[t, 2]
        lev = gT[t, start:stop]
        if zrow < 0:
            for i in range(m):
                eta[i] += r[base + stride * lev[i]]
        else:
            zc = Zt[zrow, start:stop]
            for i in range(m):
                eta[i] += zc[i] * r[base + stride * lev[i]]
    for j in range(Xb.shape[0]):
        col = Xb[j, start:stop]
        bj = bb[j]
        for i in range(m):
            eta[i] += col[i] * bj
    for j in range(Xf.shape[0]):
        colf = Xf[j, start:stop]
        bj = bf[j]
        for i in range(m):
            eta[i] += colf[i] * bj


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_ROW_MATH)
def _rows(x, r, Xb, bcol, Xf, fcol, w, cells, gT, tmeta, Zt, link, P, A, B, C, gb, gr, stat):
    """Sums over the rows, cell block by cell block (``stat[k]``; cell k spans levels
    ``lo = cells[k, 0]`` to ``hi = cells[k, 1]``, one level or a range, in packed rows
    ``cells[k, 2]`` to ``cells[k, 3]``): for the logit link
    sum w log1p(S), sum w u/(1 + S), sum w/(u (1 + S)), sum w/(1 + S) and sum w, with
    u = exp(eta) and S = u A_k + B_k / u + C_k (see :func:`log_density`); for the other
    link sum w log p, sum w dlog p/dP_lo, sum w dlog p/dP_{hi+1}, 0 and sum w. Adds
    d loglik / d eta times the design to ``gb`` (coefficients) and ``gr`` (group
    effects ``r``).

    The design: small-integer columns (dummies) as int8 in ``Xb``, the others in ``Xf``,
    both by column, with the coefficient each multiplies in ``bcol``/``fcol``; group
    terms by ``tmeta`` rows (offset into ``r``, stride, row of ``Zt`` or -1 for a
    column of ones) with their level codes in ``gT``."""
    K = cells.shape[0]
    pb, pf, nt = Xb.shape[0], Xf.shape[0], gT.shape[0]
    bb = np.empty(pb)
    bf = np.empty(pf)
    for j in range(pb):
        bb[j] = x[bcol[j]]
    for j in range(pf):
        bf[j] = x[fcol[j]]
    acc_b = np.zeros(pb)
    acc_f = np.zeros(pf)
    eta = np.empty(_CHUNK)
    deta = np.empty(_CHUNK)
    for k in range(K):
        a_, b_, c_ = A[k], B[k], C[k]
        lo, hi = P[cells[k, 0]], P[cells[k, 1] + 1]
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        s3 = 0.0
        sw = 0.0
        for start in range(cells[k, 2], cells[k, 3], _CHUNK):
            m = min(_CHUNK, cells[k, 3] - start)
            stop = start + m
            _eta_chunk(bb, bf, r, Xb, Xf, gT, tmeta, Zt, start, stop, eta)
            ww = w[start:stop]
            if link == LOGIT:
                for i in range(m):
                    wi = ww[i]
                    u = _vexp(eta[i])
                    iu = 1.0 / u
                    uA = u * a_
                    Bu = b_ * iu
                    S = uA + Bu + c_
                    inv = wi / (1.0 + S)
                    deta[i] = (Bu - uA) * inv
                    s0 += wi * _vlog1p(S)
                    s1 += u * inv
                    s2 += inv * iu
                    s3 += inv
                    sw += wi
            elif link == PROBIT and hi - lo > 0.02:  # branch-free: vectorises too
                for i in range(m):
                    wi = ww[i]
                    v, da, db = probit_wide(lo - eta[i], hi - eta[i])
                    deta[i] = -wi * (da + db)
                    s0 += wi * v
                    s1 += wi * da
                    s2 += wi * db
                    sw += wi
            elif link == PROBIT:  # a narrow cell: with the series about the midpoint
                for i in range(m):
                    wi = ww[i]
                    v, da, db = probit_interval(lo - eta[i], hi - eta[i])
                    deta[i] = -wi * (da + db)
                    s0 += wi * v
                    s1 += wi * da
                    s2 += wi * db
                    sw += wi
            else:
                for i in range(m):
                    wi = ww[i]
                    v, da, db = link_interval(link, lo - eta[i], hi - eta[i])
                    deta[i] = -wi * (da + db)
                    s0 += wi * v
                    s1 += wi * da
                    s2 += wi * db
                    sw += wi
            for j in range(pb):
                col = Xb[j, start:stop]
                acc = 0.0
                for i in range(m):
                    acc += col[i] * deta[i]
                acc_b[j] += acc
            for j in range(pf):
                colf = Xf[j, start:stop]
                acc = 0.0
                for i in range(m):
                    acc += colf[i] * deta[i]
                acc_f[j] += acc
            for t in range(nt):
                base, stride, zrow = tmeta[t, 0], tmeta[t, 1], tmeta[t, 2]
                lev = gT[t, start:stop]
                if zrow < 0:
                    for i in range(m):
                        gr[base + stride * lev[i]] += deta[i]
                else:
                    zc = Zt[zrow, start:stop]
                    for i in range(m):
                        gr[base + stride * lev[i]] += deta[i] * zc[i]
        stat[k, 0] = s0
        stat[k, 1] = s1
        stat[k, 2] = s2
        stat[k, 3] = s3
        stat[k, 4] = sw
    for j in range(pb):
        gb[bcol[j]] += acc_b[j]
    for j in range(pf):
        gb[fcol[j]] += acc_f[j]


# -- the log density ---------------------------------------------------------------------
@njit(cache=True, nogil=True, error_model="numpy")
def log_density(
    x,
    grad,
    Xb,
    bcol,
    Xf,
    fcol,
    w,
    cells,
    gT,
    tmeta,
    Zt,
    X_shift,
    gmeta,
    bpar,
    spar,
    cpar,
    link,
    bfam,
    cfam,
    hier,
    W,
    anc,
    r2d2,
    T,
    rpar,
    rcomp,
    rscale,
    rnc,
    mometa,
    mopar,
):
    """Log density at the unconstrained point ``x``; its gradient goes into ``grad``.

    The rows come in blocks by outcome cell (cell ``k`` in rows ``cells[k, 2]`` to
    ``cells[k, 3]``: levels ``cells[k, 0]`` to ``cells[k, 1]``, one level or the range
    of an ambiguous code), with their design by column (see :func:`_rows`).

    ``gmeta`` holds one row per group term: offset of ``z`` in ``x``, levels, terms,
    offset of ``log(sd)``, first of its columns in the design's ``Z`` (the rows read
    theirs from ``tmeta``/``Zt``), sd prior family, first row in ``spar`` (sigma, nu,
    lam per term, then the group's LKJ eta and log constant), then the correlations'
    columns below. ``bpar`` rows are (mu, sigma, nu) per
    coefficient, ``cpar`` is (mu, sigma, PAD, K, equidistant, sequential) or (alpha, 0,
    PAD, K, equidistant, sequential) for the cutpoints (sequential: the family's
    thresholds are free, with their own induced-Dirichlet prior, and the rows are its
    steps' terms, :func:`bayesresp.inference.packing.pack`; PAD: the link's
    :attr:`bayesresp.maths.links.Link.pad`, passed at run time so that the compiled code
    follows it; with ``equidistant`` non-zero ``x`` holds the first and last of the K - 1
    thresholds, ordered, with the flexible prior's marginal: :func:`_end_prior`).

    ``hier`` is a bit mask of the hierarchically centred group terms, nested intercepts
    (:func:`_centred_level`): ``x`` holds a centred term's level means where it
    otherwise holds its ``z``; the rows see the deepest centred term's means (its
    outer terms are in them) and the terms inside it.

    With ``r2d2`` set, the prior is :mod:`bayesresp.model.r2d2`'s: ``x`` holds each
    component's log variance ratio ``log(tau2 share_c)`` first (C values; mapped to R2's
    log odds and the shares' simplex coordinates by :func:`_r2d2_coordinates`), then the
    whitened coefficients ``b_w ~ N(0, scale_k)`` (``b = T b_w``) where it otherwise
    holds ``b``, and no ``log(sd)``; ``rpar`` is (Beta a, Beta b, the Dirichlet alpha of
    a group term's split over its columns, residual variance, number of components C,
    offset of the log variance ratios in ``x``, then the shares' C concentrations),
    ``rcomp`` the component of each coefficient then of each group term's column, ``T``
    the coefficients' scaling within terms, ``rscale`` the group columns' and ``rnc``
    which coefficients are non-centred (:func:`bayesresp.model.r2d2.scalings`).

    ``mo()`` terms enter the rows as indicator columns, one per step (level >= k), after
    the design's ``p`` columns, with the total effect times the step's share as their
    coefficient. ``mometa`` holds one row per term: number of steps, offset of its total
    (``b_mo``, or ``b_mo_w`` under r2d2) in ``x``, offset of its simplex, first
    indicator column; ``mopar`` its total's prior (family, mu, sigma, nu), the simplex's
    Dirichlet concentration, and under r2d2 its scale's unit, whether it is non-centred
    and its component.

    A group term with correlated varying slopes has ``r = z (diag(sd) L)^T``, ``L`` the
    Cholesky factor of their correlation matrix under an LKJ prior (:func:`_lkj_factor`):
    ``gmeta[g, 7]`` holds the offset of its values in ``x`` (-1: uncorrelated), the row's
    next columns where each goes in ``L``; ``spar[srow, 3:5]`` the prior's eta and log
    constant.
    """
    pe = X_shift.shape[0]  # the design's columns, then the mo() steps' indicator columns
    p = bpar.shape[0]  # the design's columns
    G = gmeta.shape[0]
    grad[:] = 0.0
    lp = 0.0
    b = np.empty(pe)  # the coefficients (of the indicator columns: total x share)
    gb = np.zeros(pe)  # d log density / d b
    n_mo = mometa.shape[0]
    mo_size = n_mo  # the totals and the simplexes' coordinates in x
    for j in range(n_mo):
        mo_size += mometa[j, 0] - 1
    n_comp = max(np.int64(rpar[4]), 1)  # r2d2's components
    share = np.empty(n_comp)
    scale = np.empty(n_comp)  # sqrt(share * tau2) per component
    gscale = np.zeros(n_comp)
    ry = np.zeros(n_comp)  # R2's log odds and the shares' simplex coordinates
    gry = np.zeros(n_comp)  # d log density / d ry

    # coefficients
    if r2d2:
        o_r2 = np.int64(rpar[5])
        ow = o_r2 + n_comp  # the whitened coefficients b_w, b = T b_w
        conc = rpar[6 : 6 + n_comp]  # the shares' Dirichlet concentrations
        _r2d2_coordinates(x, o_r2, n_comp, ry)
        lp += _r2d2_prior(ry, 0, n_comp, rpar[0], rpar[1], conc, rpar[3], share, scale, gry)
        lp -= math.log(n_comp)  # log |d ry / d x|
        wv = np.empty(p)  # the whitened coefficients, b = T wv
        for j in range(p):
            c = rcomp[j]
            sj = scale[c]
            v = x[ow + j]
            if rnc[j] != 0.0:  # non-centred: b_w ~ N(0, 1), wv = scale b_w
                lp += -0.5 * v * v - 0.5 * LOG_2PI
                grad[ow + j] += -v
                wv[j] = sj * v
            else:  # centred: b_w = wv ~ N(0, scale)
                t = v / sj
                lp += -0.5 * t * t - math.log(sj) - 0.5 * LOG_2PI
                grad[ow + j] += -t / sj
                gscale[c] += (t * t - 1.0) / sj
                wv[j] = v
        for i in range(p):
            acc = 0.0
            for j in range(p):
                acc += T[i, j] * wv[j]
            b[i] = acc
        used = ow + p + mo_size
        for g in range(G):
            used += gmeta[g, 1] * gmeta[g, 2] + gmeta[g, 2] - 1  # z, the split
            if gmeta[g, 7] >= 0:  # the correlations' Cholesky factor
                used += gmeta[g, 2] * (gmeta[g, 2] - 1) // 2
        nc = x.shape[0] - used
    else:
        for j in range(p):
            b[j] = x[j]
            mu, sigma = bpar[j, 0], bpar[j, 1]
            if bfam == NORMAL:
                d = x[j] - mu
                lp += -0.5 * (d / sigma) ** 2 - math.log(sigma) - 0.5 * LOG_2PI
                grad[j] += -d / (sigma * sigma)
            else:
                v, dv = _student_t(x[j], bpar[j, 2], mu, sigma)
                lp += v
                grad[j] += dv
        nc = _n_cut(x.shape[0], p + mo_size, gmeta)
    total_mo = np.empty(n_mo)
    for j in range(n_mo):
        lp += _mo_term(x, grad, j, mometa, mopar, r2d2, scale, gscale, total_mo, b)

    # group effects r = z * sd, non-centred
    r_total = 0
    for g in range(G):
        r_total += gmeta[g, 1] * gmeta[g, 2]
    r = np.empty(r_total)
    gr = np.zeros(r_total)
    r_off = np.empty(G, dtype=np.int64)
    pos = 0
    w_off = 0  # the centred terms' first row in W
    prev = -1  # the last centred term so far
    for g in range(G):
        oz, L, q, osd = gmeta[g, 0], gmeta[g, 1], gmeta[g, 2], gmeta[g, 3]
        fam, srow = gmeta[g, 5], gmeta[g, 6]
        r_off[g] = pos
        if (hier >> g) & 1:  # centred: its level means are in x
            lp += _centred_level(
                x, grad, g, prev, w_off, gmeta, spar, W, anc, r, r_off, gr, b, gb, r2d2,
                scale, gscale, rcomp, rscale,
            )  # fmt: skip
            w_off += L
            prev = g
            pos += L
            continue
        split = np.empty(q)  # r2d2: the term's share split over its columns
        if r2d2:
            lp += _simplex(x, osd, q, rpar[2], split, grad)
        sdv = np.empty(q)
        for t in range(q):
            if r2d2:
                sdv[t] = scale[rcomp[p + srow + t]] * math.sqrt(split[t]) * rscale[srow + t]
            else:
                u = x[osd + t]
                sd = math.exp(u)
                v, dv = _sd_prior(sd, fam, spar[srow + t, 0], spar[srow + t, 1], spar[srow + t, 2])
                lp += v + u
                grad[osd + t] += dv * sd + 1.0
                sdv[t] = sd
        if gmeta[g, 7] >= 0:  # correlated: r = z (diag(sd) L)^T
            chol = np.empty((q, q))
            norm2 = np.empty(q)
            lp += _lkj_factor(x, g, q, gmeta, spar, chol, norm2)
            for lev in range(L):
                for t in range(q):
                    acc = 0.0
                    for j in range(t + 1):
                        acc += x[oz + lev * q + j] * chol[t, j]
                    r[pos + lev * q + t] = acc * sdv[t]
        else:
            for lev in range(L):
                for t in range(q):
                    r[pos + lev * q + t] = x[oz + lev * q + t] * sdv[t]
        for k in range(L * q):
            zz = x[oz + k]
            lp += -0.5 * zz * zz - 0.5 * LOG_2PI
            grad[oz + k] += -zz
        pos += L * q

    # cutpoints of the average case (ordered transform; under r2d2 their prior is
    # that of c / D, D = 1 / sqrt(1 - R2) = sqrt(1 + exp(u))) and of the reference case
    oc = x.shape[0] - nc
    equi = cpar[4] != 0.0  # equidistant: the first and last threshold in x
    seq = cpar[5] != 0.0  # a sequential family: free thresholds, no ordered transform
    width = 1.0
    if equi:
        nc = np.int64(cpar[3]) - 1
    K = nc + 1
    centred = np.empty(nc)
    centred[0] = x[oc]
    if equi:
        width = math.exp(x[oc + 1])  # last - first
        lp += x[oc + 1]  # log |Jacobian| of the ordered transform
        for k in range(1, nc):
            centred[k] = x[oc] + width * k / (nc - 1)
    for k in range(1, nc if not equi else 1):
        if seq:
            centred[k] = x[oc + k]
            continue
        centred[k] = centred[k - 1] + math.exp(x[oc + k])
        lp += x[oc + k]  # log |Jacobian| of the ordered transform
    D = math.sqrt(1.0 + math.exp(ry[0])) if r2d2 else 1.0
    shift = 0.0
    for j in range(pe):
        shift += X_shift[j] * b[j]
    P = np.empty(K + 1)  # padded cutpoints of the reference case
    P[0] = -cpar[2]
    P[K] = cpar[2]
    for k in range(nc):
        P[k + 1] = centred[k] + shift
    gP = np.zeros(K + 1)  # d loglik / d P

    # per-cell constants of the logit likelihood
    n_cell = cells.shape[0]
    A = np.empty(n_cell)
    B = np.empty(n_cell)
    C = np.empty(n_cell)
    gap = np.empty(n_cell)
    gA = np.zeros(n_cell)
    gB = np.zeros(n_cell)
    gC = np.zeros(n_cell)
    ngap = np.zeros(n_cell)
    if link == LOGIT:
        _logit_terms(P, cells, A, B, C, gap)

    # the rows
    stat = np.empty((n_cell, 5))
    _rows(b, r, Xb, bcol, Xf, fcol, w, cells, gT, tmeta, Zt, link, P, A, B, C, gb, gr, stat)
    for k in range(n_cell):
        lo, hi = cells[k, 0], cells[k, 1] + 1  # the cell's bounds in P
        if link == LOGIT:
            if stat[k, 4] != 0.0:  # a cell without rows adds nothing (gap may be -inf)
                lp += stat[k, 4] * gap[k] - stat[k, 0]
            gA[k] = -stat[k, 1]
            gB[k] = -stat[k, 2]
            gC[k] = -stat[k, 3]
            ngap[k] = stat[k, 4]
        else:
            lp += stat[k, 0]
            gP[lo] += stat[k, 1]
            gP[hi] += stat[k, 2]

    if link == LOGIT:
        for k in range(n_cell):
            lo, hi = cells[k, 0], cells[k, 1] + 1
            gP[hi] -= gA[k] * A[k]
            gP[lo] += gB[k] * B[k]
            gP[lo] += gC[k] * C[k]
            gP[hi] -= gC[k] * C[k]
            d = P[lo] - P[hi]
            if d < 0.0 and ngap[k] != 0.0:
                dg = ngap[k] * math.exp(d) / math.expm1(d)
                gP[lo] += dg
                gP[hi] -= dg

    # chain the cutpoints' gradient: reference = centred + X_shift . b
    gc = np.empty(nc)
    total = 0.0
    gD = 0.0  # d log density / d D
    for k in range(nc):
        gc[k] = gP[k + 1]
        total += gP[k + 1]
    for j in range(pe):
        gb[j] += total * X_shift[j]

    # prior of the average case's cutpoints; under r2d2, that of c / D, with the
    # Jacobian D^-(K-1) (D^-2 for the two of equidistant thresholds)
    if equi:
        ends = np.empty(2)
        gends = np.zeros(2)  # d log density / d (first, last)
        for k in range(nc):
            t = k / (nc - 1)
            gends[0] += gc[k] * (1.0 - t)
            gends[1] += gc[k] * t
        ends[0], ends[1] = centred[0], centred[nc - 1]
        if r2d2:
            graw = np.zeros(2)
            for k in range(2):
                ends[k] = ends[k] / D
            lp += _end_prior(ends, cfam, cpar, link, K, graw) - 2.0 * math.log(D)
            gD -= 2.0 / D
            for k in range(2):
                gends[k] += graw[k] / D
                gD -= graw[k] * ends[k] / D
        else:
            lp += _end_prior(ends, cfam, cpar, link, K, gends)
        grad[oc] += gends[0] + gends[1]  # through the ordered transform
        grad[oc + 1] += gends[1] * width + 1.0
    elif r2d2:
        raw = np.empty(nc)
        graw = np.zeros(nc)
        for k in range(nc):
            raw[k] = centred[k] / D
        lp += _cutpoint_prior(raw, cfam, cpar, link, graw) - nc * math.log(D)
        gD -= nc / D
        for k in range(nc):
            gc[k] += graw[k] / D
            gD -= graw[k] * raw[k] / D
    else:
        lp += _cutpoint_prior(centred, cfam, cpar, link, gc)

    # through the ordered transform (a sequential family's thresholds are x itself)
    acc = 0.0
    for k in range(nc - 1 if not equi else -1, -1, -1):
        if seq:
            grad[oc + k] += gc[k]
            continue
        acc += gc[k]
        if k == 0:
            grad[oc] += acc
        else:
            grad[oc + k] += acc * math.exp(x[oc + k]) + 1.0

    # group effects back to z and log(sd) (centred: to the level means; r2d2: to the
    # components' scales)
    for g in range(G):
        oz, L, q, osd = gmeta[g, 0], gmeta[g, 1], gmeta[g, 2], gmeta[g, 3]
        srow = gmeta[g, 6]
        base = r_off[g]
        if (hier >> g) & 1:
            for lev in range(L):
                grad[oz + lev] += gr[base + lev]
            continue
        split = np.empty(q)
        ksplit = np.zeros(q)  # d log density / d log split
        if r2d2:
            _softmax(x, osd, q, split)
        units = np.empty(q)
        sdv = np.empty(q)
        for t in range(q):
            if r2d2:
                units[t] = math.sqrt(split[t]) * rscale[srow + t]
                sdv[t] = scale[rcomp[p + srow + t]] * units[t]
            else:
                sdv[t] = math.exp(x[osd + t])
        gsd = np.zeros(q)  # d log density / d sd
        if gmeta[g, 7] >= 0:  # correlated: to z, sd and the Cholesky factor L
            chol = np.empty((q, q))
            norm2 = np.empty(q)
            _lkj_factor(x, g, q, gmeta, spar, chol, norm2)
            gchol = np.zeros((q, q))
            for lev in range(L):
                for t in range(q):
                    gt = gr[base + lev * q + t]
                    acc = 0.0
                    for j in range(t + 1):
                        zz = x[oz + lev * q + j]
                        acc += zz * chol[t, j]
                        grad[oz + lev * q + j] += gt * sdv[t] * chol[t, j]
                        gchol[t, j] += gt * sdv[t] * zz
                    gsd[t] += gt * acc
            _lkj_chain(x, g, q, gmeta, spar, chol, norm2, gchol, grad)
        else:
            for t in range(q):
                for lev in range(L):
                    k = lev * q + t
                    grad[oz + k] += gr[base + k] * sdv[t]
                    gsd[t] += gr[base + k] * x[oz + k]
        for t in range(q):
            if r2d2:
                gscale[rcomp[p + srow + t]] += gsd[t] * units[t]
                ksplit[t] = 0.5 * gsd[t] * sdv[t]
            else:
                grad[osd + t] += gsd[t] * sdv[t]
        if r2d2:
            _simplex_chain(osd, split, ksplit, grad)

    # the mo() steps' coefficients back to the totals and the simplexes
    for j in range(n_mo):
        _mo_chain(x, grad, j, mometa, mopar, r2d2, scale, gscale, total_mo, gb)

    # the coefficients: b itself, or b = T b_w
    if r2d2:
        o_r2 = np.int64(rpar[5])
        ow = o_r2 + n_comp
        for i in range(p):
            acc = 0.0
            for j in range(p):
                acc += T[j, i] * gb[j]
            if rnc[i] != 0.0:
                c = rcomp[i]
                grad[ow + i] += acc * scale[c]
                gscale[c] += acc * x[ow + i]
            else:
                grad[ow + i] += acc
        eu = math.exp(ry[0])
        gry[0] += gD * eu / (2.0 * D)
        _r2d2_chain(ry, 0, share, scale, gscale, gry)
        _r2d2_unchain(o_r2, share, gry, grad)
    else:
        for j in range(p):
            grad[j] += gb[j]
    return lp


@njit(cache=True, nogil=True, error_model="numpy")
def _cutpoint_prior(c, cfam, cpar, link, gc):
    """Log density of the cutpoints' prior at ``c``; adds its gradient to ``gc``."""
    if cfam == CUT_NORMAL:
        mu, sigma = cpar[0], cpar[1]
        lp = 0.0
        for k in range(c.shape[0]):
            d = c[k] - mu
            lp += -0.5 * (d / sigma) ** 2 - math.log(sigma) - 0.5 * LOG_2PI
            gc[k] += -d / (sigma * sigma)
        return lp
    if cpar[5] != 0.0:
        return _induced_dirichlet_sequential(c, cpar[0], link, cpar[2], gc)
    return _induced_dirichlet(c, cpar[0], link, cpar[2], gc)


@njit(cache=True, nogil=True, error_model="numpy")
def _end_prior(c, cfam, cpar, link, K, g):
    """Log density of the first and last threshold ``c`` (2,) under the flexible prior's
    marginal (equidistant thresholds; :mod:`bayesresp.maths.thresholds`); adds its
    gradient to ``g``. Induced Dirichlet: (F(a), F(b) - F(a), S(b)) ~ Dirichlet(alpha,
    (K - 2) alpha, alpha), times f(a) f(b); normal: the smallest and largest of K - 1
    draws."""
    pad = cpar[2]
    if cfam == CUT_NORMAL:
        mu, sigma = cpar[0], cpar[1]
        n = K - 1
        za, zb = (c[0] - mu) / sigma, (c[1] - mu) / sigma
        v, da, db = link_interval(PROBIT, za, zb)  # log(Phi(zb) - Phi(za))
        lp = math.log(n * (n - 1.0)) - 0.5 * (za * za + zb * zb) - LOG_2PI
        lp += -2.0 * math.log(sigma) + (n - 2) * v
        g[0] += (-za + (n - 2) * da) / sigma
        g[1] += (-zb + (n - 2) * db) / sigma
        return lp
    alpha = cpar[0]
    inner = (K - 2) * alpha
    lp = math.lgamma(2.0 * alpha + inner) - 2.0 * math.lgamma(alpha) - math.lgamma(inner)
    for k in range(2):
        lp += link_log_pdf(link, c[k])
        g[k] += link_dlog_pdf(link, c[k])
    v, da, db = link_interval(link, c[0], c[1])  # log(F(b) - F(a))
    lp += (inner - 1.0) * v
    g[0] += (inner - 1.0) * da
    g[1] += (inner - 1.0) * db
    if alpha != 1.0:
        v, _, db = link_interval(link, -pad, c[0])  # log F(a)
        lp += (alpha - 1.0) * v
        g[0] += (alpha - 1.0) * db
        v, da, _ = link_interval(link, c[1], pad)  # log S(b)
        lp += (alpha - 1.0) * v
        g[1] += (alpha - 1.0) * da
    return lp


@njit(cache=True, nogil=True, error_model="numpy")
def _log1pexp(v):
    """log(1 + exp(v)), without overflow."""
    return v + math.log1p(math.exp(-v)) if v > 0.0 else math.log1p(math.exp(v))


@njit(cache=True, nogil=True, error_model="numpy")
def _softmax(x, o, C, share):
    """PyMC's simplex transform backwards: ``share = softmax(v)``, ``v = (y, -sum(y))``
    with ``y = x[o : o + C - 1]``; returns ``logsumexp(v)``."""
    if C == 1:
        share[0] = 1.0
        return 0.0
    total = 0.0
    for c in range(C - 1):
        total += x[o + c]
    top = -total
    for c in range(C - 1):
        top = max(top, x[o + c])
    acc = math.exp(-total - top)
    for c in range(C - 1):
        acc += math.exp(x[o + c] - top)
    lse = top + math.log(acc)
    for c in range(C - 1):
        share[c] = math.exp(x[o + c] - lse)
    share[C - 1] = math.exp(-total - lse)
    return lse


@njit(cache=True, nogil=True, error_model="numpy")
def _simplex(x, o, C, alpha, share, grad):
    """Log density of ``share ~ Dirichlet(alpha)`` (all C concentrations ``alpha``) through
    PyMC's simplex transform of ``x[o : o + C - 1]``, with its Jacobian; fills ``share``
    and adds the gradient to ``grad``: :func:`_simplex_of` with equal concentrations."""
    return _simplex_of(x, o, C, np.full(C, alpha), share, grad)


@njit(cache=True, nogil=True, error_model="numpy")
def _simplex_of(x, o, C, conc, share, grad):
    """Log density of ``share ~ Dirichlet(conc)`` (``conc``: C concentrations) through
    PyMC's simplex transform of ``x[o : o + C - 1]``, with its Jacobian; fills ``share``
    and adds the gradient to ``grad``. The transform's log Jacobian is
    ``log C + sum(log share)``, and with ``v = (y, -sum(y))``, ``log share_c = v_c -
    logsumexp(v)``: ``sum(conc_c log share_c) = sum(conc_c v_c) - A logsumexp(v)``,
    ``A = sum(conc)``."""
    lse = _softmax(x, o, C, share)
    if C == 1:
        return 0.0
    A = 0.0
    lp = math.log(C)
    for c in range(C):
        A += conc[c]
        lp -= math.lgamma(conc[c])
    last = -lse  # v_C - lse, v_C = -sum(y)
    for c in range(C - 1):
        grad[o + c] += conc[c] - conc[C - 1] - A * (share[c] - share[C - 1])
        last -= x[o + c]
        lp += conc[c] * (x[o + c] - lse)
    return lp + conc[C - 1] * last + math.lgamma(A)


@njit(cache=True, nogil=True, error_model="numpy")
def _simplex_chain(o, share, k, grad):
    """Given ``k[c]``, the derivative of a function with respect to ``log share[c]``, add
    its derivative with respect to the simplex coordinates ``x[o : o + C - 1]``:
    ``d log share_c / d v_d = delta_cd - share_d``, ``v_c = y_c`` and ``v_C = -sum(y)``."""
    C = share.shape[0]
    if C == 1:
        return
    K = 0.0
    for c in range(C):
        K += k[c]
    last = k[C - 1] - share[C - 1] * K
    for c in range(C - 1):
        grad[o + c] += k[c] - share[c] * K - last


@njit(cache=True, nogil=True, error_model="numpy")
def _r2d2_coordinates(x, o, C, ry):
    """The r2d2 prior's coordinates in PyMC's model from the kernel's: ``x[o : o + C]``
    holds each component's log variance ratio ``l_c = log(tau2 share_c)``, ``tau2 = R2 /
    (1 - R2)``; ``ry`` gets R2's log odds ``u = log sum exp(l)`` and the shares' simplex
    coordinates ``y_c = l_c - mean(l)`` (c < C). The sampler moves each component's
    scale along an axis of its own: where the data pin a group's sd down (a hierarchically
    centred term), that is a narrow ridge along an axis, not a curved one across R2 and
    every share. ``|d ry / d l| = 1 / C``."""
    top = x[o]
    for c in range(1, C):
        top = max(top, x[o + c])
    total = 0.0
    mean = 0.0
    for c in range(C):
        total += math.exp(x[o + c] - top)
        mean += x[o + c]
    mean /= C
    ry[0] = top + math.log(total)
    for c in range(C - 1):
        ry[1 + c] = x[o + c] - mean


@njit(cache=True, nogil=True, error_model="numpy")
def _r2d2_unchain(o, share, gry, grad):
    """Chain ``gry`` (the derivative with respect to :func:`_r2d2_coordinates`' ``ry``)
    to the log variance ratios ``x[o : o + C]``: ``d u / d l_c = share_c``,
    ``d y_k / d l_c = delta_kc - 1 / C``."""
    C = share.shape[0]
    ysum = 0.0
    for k in range(1, C):
        ysum += gry[k]
    for c in range(C):
        grad[o + c] += gry[0] * share[c] - ysum / C
        if c < C - 1:
            grad[o + c] += gry[1 + c]


@njit(cache=True, nogil=True, error_model="numpy")
def _r2d2_prior(x, o, C, a, b, conc, s2, share, scale, grad):
    """The r2d2 prior's own terms (:mod:`bayesresp.model.r2d2`): the log density of
    ``R2 ~ Beta(a, b)`` at ``R2 = 1 / (1 + exp(-u))``, ``u = x[o]``, and of
    ``shares ~ Dirichlet(conc)`` through PyMC's simplex transform of ``x[o + 1 : o + C]``,
    each with its Jacobian; adds their gradient to ``grad``. Fills ``share`` and each
    component's ``scale = sqrt(share * tau2)``, ``tau2 = s2 R2 / (1 - R2) = s2 exp(u)``."""
    u = x[o]
    log_r2 = -_log1pexp(-u)
    log_1mr2 = -_log1pexp(u)
    r2 = math.exp(log_r2)
    # (a - 1) log R2 + (b - 1) log(1 - R2) - log B(a, b), plus log R2 + log(1 - R2)
    lp = a * log_r2 + b * log_1mr2 - (math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))
    grad[o] += a * (1.0 - r2) - b * r2
    lp += _simplex_of(x, o + 1, C, conc, share, grad)
    root = math.sqrt(s2) * math.exp(0.5 * u)
    for c in range(C):
        scale[c] = root * math.sqrt(share[c])
    return lp


@njit(cache=True, nogil=True, error_model="numpy")
def _r2d2_chain(x, o, share, scale, gscale, grad):
    """Chain the gradient of the components' scales (``gscale``) to R2's log odds and the
    shares' simplex coordinates: ``scale_c = sqrt(s2) exp(u / 2) share_c^(1/2)``."""
    C = share.shape[0]
    k = np.empty(C)
    H = 0.0
    for c in range(C):
        k[c] = 0.5 * gscale[c] * scale[c]
        H += k[c]
    grad[o] += H
    _simplex_chain(o + 1, share, k, grad)


@njit(cache=True, nogil=True, error_model="numpy")
def _centred_level(
    x, grad, g, prev, w_off, gmeta, spar, W, anc, r, r_off, gr, b, gb, r2d2, scale, gscale,
    rcomp, rscale,
):  # fmt: skip
    """Group term ``g``, an intercept of nested ones, hierarchically centred: its level
    means are normal around the covariates constant within them plus the outer terms'
    part, ``mu[l] ~ N(W[l] . b + m[l], sd)``: ``m[l]`` is the last centred outer term's
    mean (``prev``; -1: none) at level ``l``'s ancestor plus the effects of the
    non-centred terms between (all outer terms' effects when none is centred). ``W``'s
    rows from ``w_off`` are the term's, with the columns constant within its levels but
    not within ``prev``'s; ``anc[w_off + l, h]`` is level ``l``'s level in term ``h``;
    ``b`` the coefficients of the design's columns and of the ``mo()`` steps' indicator
    columns. Adds the log density of the means, and of the sd (with the log transform's
    Jacobian) where it is a parameter of its own, and its gradient: to ``b`` in ``gb``,
    to the outer terms' values in ``gr``, to ``log(sd)`` in ``grad``, or under r2d2
    (the sd is the component's scale times the column's unit) to that scale in
    ``gscale``. Puts the means into ``r`` (the rows and inner terms read them there).
    The non-centred form's effect is ``r[l] = mu[l] - W[l] . b - m[l]``, ``z = r / sd``."""
    pe = W.shape[1]
    oz, L, osd = gmeta[g, 0], gmeta[g, 1], gmeta[g, 3]
    fam, srow = gmeta[g, 5], gmeta[g, 6]
    pos = r_off[g]
    first = prev if prev >= 0 else 0  # the outer terms the mean reads
    lp = 0.0
    comp, unit = 0, 1.0
    if r2d2:  # the sd from the shares: its prior is the r2d2 prior's
        # rcomp: the coefficients' components, then the group columns' (as rscale)
        comp = rcomp[rcomp.shape[0] - rscale.shape[0] + srow]
        unit = rscale[srow]
        sd = scale[comp] * unit
        u = math.log(sd)
    else:
        u = x[osd]
        sd = math.exp(u)
        lp, dv = _sd_prior(sd, fam, spar[srow, 0], spar[srow, 1], spar[srow, 2])
        lp += u
        grad[osd] += dv * sd + 1.0
    gu = 0.0  # d log density / d log(sd)
    for lev in range(L):
        row = w_off + lev
        mu_l = x[oz + lev]
        r[pos + lev] = mu_l
        mean = 0.0
        for j in range(pe):
            mean += W[row, j] * b[j]
        for h in range(first, g):
            mean += r[r_off[h] + anc[row, h]]
        t = (mu_l - mean) / sd
        lp += -0.5 * t * t - u - 0.5 * LOG_2PI
        gt = t / sd  # d lp / d mean = -d lp / d mu_l
        grad[oz + lev] -= gt
        for j in range(pe):
            gb[j] += gt * W[row, j]
        for h in range(first, g):
            gr[r_off[h] + anc[row, h]] += gt
        gu += t * t - 1.0
    if r2d2:
        gscale[comp] += gu / sd * unit
    else:
        grad[osd] += gu
    return lp


@njit(cache=True, nogil=True, error_model="numpy")
def _mo_term(x, grad, j, mometa, mopar, r2d2, scale, gscale, total, b):
    """The ``j``-th ``mo()`` term: the log density of its total effect and of its simplex
    (``Dirichlet``, through PyMC's simplex transform), with their gradient; puts the total
    into ``total[j]`` and the coefficients of its indicator columns, the total times each
    step's share, into ``b``. Under r2d2 the total follows the coefficients' rule: centred
    ``b_mo_w ~ N(0, s)`` or non-centred ``b_mo = s b_mo_w``, ``s = scale_k * unit``."""
    steps, ot, osx, col = mometa[j, 0], mometa[j, 1], mometa[j, 2], mometa[j, 3]
    v = x[ot]
    lp = 0.0
    if r2d2:
        c = np.int64(mopar[j, 7])
        unit = mopar[j, 5]
        s = scale[c] * unit
        if mopar[j, 6] != 0.0:  # non-centred
            lp += -0.5 * v * v - 0.5 * LOG_2PI
            grad[ot] += -v
            total[j] = s * v
        else:
            t = v / s
            lp += -0.5 * t * t - math.log(s) - 0.5 * LOG_2PI
            grad[ot] += -t / s
            gscale[c] += (t * t - 1.0) / s * unit
            total[j] = v
    else:
        mu, sigma = mopar[j, 1], mopar[j, 2]
        if np.int64(mopar[j, 0]) == NORMAL:
            d = v - mu
            lp += -0.5 * (d / sigma) ** 2 - math.log(sigma) - 0.5 * LOG_2PI
            grad[ot] += -d / (sigma * sigma)
        else:
            value, dv = _student_t(v, mopar[j, 3], mu, sigma)
            lp += value
            grad[ot] += dv
        total[j] = v
    share = np.empty(steps)
    lp += _simplex(x, osx, steps, mopar[j, 4], share, grad)
    for k in range(steps):
        b[col + k] = total[j] * share[k]
    return lp


@njit(cache=True, nogil=True, error_model="numpy")
def _mo_chain(x, grad, j, mometa, mopar, r2d2, scale, gscale, total, gb):
    """Chain the gradient of the ``j``-th ``mo()`` term's indicator coefficients
    (``gb``) to its total and its simplex coordinates (and under r2d2, when non-centred,
    to its component's scale)."""
    steps, ot, osx, col = mometa[j, 0], mometa[j, 1], mometa[j, 2], mometa[j, 3]
    share = np.empty(steps)
    _softmax(x, osx, steps, share)
    g_total = 0.0
    k_log = np.empty(steps)  # d log density / d log share
    for k in range(steps):
        g_total += gb[col + k] * share[k]
        k_log[k] = gb[col + k] * total[j] * share[k]
    _simplex_chain(osx, share, k_log, grad)
    if r2d2 and mopar[j, 6] != 0.0:
        c = np.int64(mopar[j, 7])
        unit = mopar[j, 5]
        grad[ot] += g_total * scale[c] * unit
        gscale[c] += g_total * x[ot] * unit
    else:
        grad[ot] += g_total


@njit(cache=True, nogil=True, error_model="numpy")
def _lkj_factor(x, g, q, gmeta, spar, chol, norm2):
    """Group term ``g``'s Cholesky factor of its correlation matrix into ``chol`` (q x q)
    from its values in ``x`` (PyMC's CholeskyCorrTransform: each value to its place below
    the diagonal, a 1 on it, each row scaled to unit length; its squared length before
    into ``norm2``). Returns the LKJ(eta) log density of the factor plus the transform's
    log |Jacobian|: with ``L_ii = norm_i^-1``, ``sum_i (2 eta - 2 + q - i) log L_ii`` (i
    from 1) and ``sum_i (i + 1) log L_ii``, together ``-(2 eta + q - 1) / 2 sum_i log
    norm2_i``, plus the constant."""
    o = gmeta[g, 7]
    srow = gmeta[g, 6]
    for i in range(q):
        for j in range(q):
            chol[i, j] = 1.0 if i == j else 0.0
    for k in range(q * (q - 1) // 2):
        where = gmeta[g, 8 + k]
        chol[where // q, where % q] = x[o + k]
    c = 2.0 * spar[srow, 3] + q - 1.0
    lp = spar[srow, 4]
    for i in range(q):
        ss = 0.0
        for j in range(i + 1):
            ss += chol[i, j] * chol[i, j]
        norm2[i] = ss
        inv = 1.0 / math.sqrt(ss)
        for j in range(i + 1):
            chol[i, j] *= inv
        lp -= 0.5 * c * math.log(ss)
    return lp


@njit(cache=True, nogil=True, error_model="numpy")
def _lkj_chain(x, g, q, gmeta, spar, chol, norm2, gchol, grad):
    """The gradient through :func:`_lkj_factor`: ``gchol`` (d log density / d L) to
    the values in ``x`` (row i is ``w / |w|``, so ``dL_i = (I - L_i L_i^T) dw / |w|``),
    with that of the density and Jacobian, ``-(2 eta + q - 1) w_ij / |w_i|^2``."""
    o = gmeta[g, 7]
    srow = gmeta[g, 6]
    c = 2.0 * spar[srow, 3] + q - 1.0
    for k in range(q * (q - 1) // 2):
        where = gmeta[g, 8 + k]
        i, j = where // q, where % q
        dot = 0.0
        for t in range(i + 1):
            dot += gchol[i, t] * chol[i, t]
        grad[o + k] += (gchol[i, j] - dot * chol[i, j]) / math.sqrt(norm2[i])
        grad[o + k] -= c * x[o + k] / norm2[i]


@njit(cache=True, nogil=True, error_model="numpy")
def _n_cut(n_dim, p, gmeta):
    used = p
    for g in range(gmeta.shape[0]):
        used += gmeta[g, 1] * gmeta[g, 2] + gmeta[g, 2]
        if gmeta[g, 7] >= 0:
            used += gmeta[g, 2] * (gmeta[g, 2] - 1) // 2
    return n_dim - used


@njit(cache=True, nogil=True, error_model="numpy")
def _induced_dirichlet(c, alpha, link, pad, gc):
    """Log density of the induced-Dirichlet prior of cutpoints ``c`` (all K
    concentrations ``alpha``); adds its gradient to ``gc``. The levels' log-probabilities
    are taken in log space (:func:`link_interval`, outer cutpoints padded): a difference
    of distribution functions would round the top level of a cloglog to 0 from c = 3.7."""
    nc = c.shape[0]
    K = nc + 1
    lp = math.lgamma(K * alpha) - K * math.lgamma(alpha)
    for k in range(nc):
        lp += link_log_pdf(link, c[k])
        gc[k] += link_dlog_pdf(link, c[k])
    if alpha != 1.0:
        for k in range(K):
            lo = c[k - 1] if k > 0 else -pad
            hi = c[k] if k < nc else pad
            v, da, db = link_interval(link, lo, hi)
            lp += (alpha - 1.0) * v
            if k > 0:
                gc[k - 1] += (alpha - 1.0) * da
            if k < nc:
                gc[k] += (alpha - 1.0) * db
    return lp


@njit(cache=True, nogil=True, error_model="numpy")
def _induced_dirichlet_sequential(c, alpha, link, pad, gc):
    """The induced-Dirichlet prior of a sequential family's thresholds (stopping at step
    k with F(c_k)): by stick-breaking, the stopping shares F(c_k) of a Dirichlet(alpha)
    are independent Beta(alpha, (K - 1 - k) alpha), so the density is
    ``sum_k (alpha - 1) log F(c_k) + (alpha (K - 1 - k) - 1) log S(c_k) + log f(c_k)``
    plus ``lgamma(K alpha) - K lgamma(alpha)`` (the Betas' constants, telescoped): the
    Dirichlet of the anchor case's probabilities times the map's Jacobian
    (:meth:`bayesresp.maths.families.Family.log_jacobian`). Adds its gradient to ``gc``."""
    nc = c.shape[0]
    K = nc + 1
    lp = math.lgamma(K * alpha) - K * math.lgamma(alpha)
    for k in range(nc):
        stop, _, dstop = link_interval(link, -pad, c[k])  # log F(c_k)
        go, dgo, _ = link_interval(link, c[k], pad)  # log S(c_k)
        after = alpha * (K - 1 - k) - 1.0
        lp += (alpha - 1.0) * stop + after * go + link_log_pdf(link, c[k])
        gc[k] += (alpha - 1.0) * dstop + after * dgo + link_dlog_pdf(link, c[k])
    return lp


# -- per-row log-likelihood of posterior draws ---------------------------------------------
@njit(cache=True, nogil=True, error_model="numpy")
def _pointwise(cell, cells, eta, cutpoints, link, pad, out):
    S, n = eta.shape
    K = cutpoints.shape[1] + 1
    n_cell = cells.shape[0]
    for s in range(S):
        P = np.empty(K + 1)
        P[0] = -pad
        P[K] = pad
        for k in range(K - 1):
            P[k + 1] = cutpoints[s, k]
        A = np.empty(n_cell)
        B = np.empty(n_cell)
        C = np.empty(n_cell)
        gap = np.empty(n_cell)
        if link == LOGIT:
            _logit_terms(P, cells, A, B, C, gap)
        e, o = eta[s], out[s]
        if link == LOGIT:
            for i in range(n):
                k = cell[i]
                u = math.exp(e[i])
                o[i] = gap[k] - math.log1p(u * A[k] + B[k] / u + C[k])
        else:
            for i in range(n):
                k = cell[i]
                lo, hi = P[cells[k, 0]], P[cells[k, 1] + 1]
                o[i] = link_interval(link, lo - e[i], hi - e[i])[0]


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_ROW_MATH)
def _pointwise_rows(
    b, r, cutpoints, Xb, bcol, Xf, fcol, cells, gT, tmeta, Zt, order, link, pad, out
):
    """Per-row log-likelihood under each draw (``out`` (S, n), rows in the design's
    order) from the draws' coefficients ``b`` (S, p), concatenated group effects ``r``
    (S, R) and cutpoints (S, K - 1), over packed rows (:func:`_row_layout`)."""
    S = b.shape[0]
    K = cutpoints.shape[1] + 1
    n_cell = cells.shape[0]
    P = np.empty(K + 1)
    A = np.empty(n_cell)
    B = np.empty(n_cell)
    C = np.empty(n_cell)
    gap = np.empty(n_cell)
    bb = np.empty(Xb.shape[0])
    bf = np.empty(Xf.shape[0])
    eta = np.empty(_CHUNK)
    val = np.empty(_CHUNK)
    for s in range(S):
        P[0] = -pad
        P[K] = pad
        for k in range(K - 1):
            P[k + 1] = cutpoints[s, k]
        if link == LOGIT:
            _logit_terms(P, cells, A, B, C, gap)
        for j in range(bb.shape[0]):
            bb[j] = b[s, bcol[j]]
        for j in range(bf.shape[0]):
            bf[j] = b[s, fcol[j]]
        rs, o = r[s], out[s]
        for k in range(n_cell):
            lo, hi = P[cells[k, 0]], P[cells[k, 1] + 1]
            for start in range(cells[k, 2], cells[k, 3], _CHUNK):
                stop = min(start + _CHUNK, cells[k, 3])
                m = stop - start
                _eta_chunk(bb, bf, rs, Xb, Xf, gT, tmeta, Zt, start, stop, eta)
                if link == LOGIT:
                    a_, b_, c_, g_ = A[k], B[k], C[k], gap[k]
                    for i in range(m):
                        u = _vexp(eta[i])
                        val[i] = g_ - _vlog1p(u * a_ + b_ / u + c_)
                elif link == PROBIT and hi - lo > 0.02:
                    for i in range(m):
                        val[i] = probit_wide(lo - eta[i], hi - eta[i])[0]
                elif link == PROBIT:
                    for i in range(m):
                        val[i] = probit_interval(lo - eta[i], hi - eta[i])[0]
                else:
                    for i in range(m):
                        val[i] = link_interval(link, lo - eta[i], hi - eta[i])[0]
                for i in range(m):
                    o[order[start + i]] = val[i]


def log_likelihood(design: Design, draws, link) -> np.ndarray:
    """Log-probability of each of the design's rows under each posterior draw, (S, n).

    ``link``: the model's ordinal family (:mod:`bayesresp.maths.families`), or a link's
    name (the cumulative family). A family the compiled code does not cover (acat), rows'
    own thresholds (cs(), (cs(1) | g)) and ranges in a sequential family are evaluated
    with NumPy (:meth:`~bayesresp.maths.families.Family.log_prob`).
    Otherwise: the kernel's packed rows in one compiled pass (no (S, n) linear predictor is formed),
    ``mo()`` terms as their steps' indicator columns; a sequential family's rows as the
    terms of their steps (:meth:`~bayesresp.maths.families.Family.intervals`), summed
    per row. A test ties it to :func:`bayesresp.inference.arrays.eta_from_draws` and
    :func:`pointwise_log_prob`, and the sequential families' to the NumPy form.
    """
    family = get_family(link)
    sequential = not family.ordered
    if (
        not family.compiled
        or draws.b_cs is not None
        or any(lat.missing.any() for lat in design.latent)  # (each draw's own design)
        or design.info.threshold_groups
        or (sequential and design.ranges.any())
    ):
        return _numpy_log_likelihood(design, draws, family)
    info = design.info
    cut = np.ascontiguousarray(draws.cutpoints, dtype=np.float64)
    K = cut.shape[1] + 1
    code = family.step_link_code if sequential else family.link.code
    n = design.n
    if sequential:  # the rows' steps, each an interval of the cumulative family's
        design, rows = step_terms(design, family)
    X = np.column_stack([np.asarray(design.X, dtype=np.float64), step_columns(design)])
    a = _row_layout(design, X, K, rows_see=0)
    S = cut.shape[0]
    r = [draws.r[g.label].reshape(S, -1) for g in info.groups]
    r = np.ascontiguousarray(np.concatenate(r, axis=1) if r else np.zeros((S, 0)))
    steps = step_coefficients(
        np.asarray(draws.b_mo, dtype=np.float64).reshape(S, -1),
        [np.asarray(draws.simplex[m.var], dtype=np.float64).reshape(S, -1) for m in info.monotonic],
    )
    b = np.concatenate([np.asarray(draws.b, dtype=np.float64).reshape(S, -1), steps], axis=1)
    b = np.ascontiguousarray(b)
    out = np.empty((S, design.n))
    names = ("Xb", "bcol", "Xf", "fcol", "cells", "gT", "tmeta", "Zt", "order")
    _pointwise_rows(b, r, cut, *(a[k] for k in names), code, family.link.pad, out)
    if sequential:  # every row has a term (a stop, or a step gone past), in row order
        return np.add.reduceat(out, np.searchsorted(rows, np.arange(n)), axis=1)
    return out


# (draws x rows x levels) cells of one chunk of the NumPy log-likelihood: ~16 MB each of
# the few such arrays a family's maths holds at once
_CHUNK_CELLS = 2_000_000


def _numpy_log_likelihood(design: Design, draws, family) -> np.ndarray:
    """(S, n) log-likelihood of a family the compiled code does not cover, in chunks of
    draws: its maths holds a few (draws, n, K) arrays at once, which for every draw of a
    large fit would take gigabytes."""
    from bayesresp.inference.arrays import (
        eta_and_fresh,
        integrate_fresh,
        row_thresholds,
        thresholds_from_draws,
    )

    S, K = draws.n_draws, len(design.info.spectrum)
    step = max(1, _CHUNK_CELLS // max(design.n * K, 1))
    out = np.empty((S, design.n))
    for start in range(0, S, step):
        part = draws.subset(np.arange(start, min(start + step, S)))
        eta, fresh = eta_and_fresh(part, design, "known")
        cut = thresholds_from_draws(part, design)

        def log_prob(e, c, cut=cut):
            high = None if design.y_high is None else design.y_high[c]
            return family.log_prob(design.y[c], e, row_thresholds(cut, c), y_high=high)

        # a latent number a row lacks outside the fitted rows: its model integrated out
        out[start : start + step] = integrate_fresh(log_prob, eta, fresh, log=True)
    return out


def pointwise_log_prob(y, eta, cutpoints, link: str, y_high=None) -> np.ndarray:
    """Log-probability of each row's observed level (or range) under each draw, shape
    (S, n): the kernel's likelihood (the same formula as the model's).

    ``y`` (n,) level codes (a range's lowest), ``eta`` (S, n) linear predictors,
    ``cutpoints`` (S, K - 1), ``y_high`` (n,) each range's highest level (None: exact).
    """
    eta = np.ascontiguousarray(eta, dtype=np.float64)
    cutpoints = np.ascontiguousarray(cutpoints, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.int64)
    K = cutpoints.shape[-1] + 1
    _check_codes(y, K, eta.shape[-1])
    cell, cells = outcome_cells(y, y_high, K)
    out = np.empty_like(eta)
    _pointwise(cell, cells, eta, cutpoints, get_link(link).code, get_link(link).pad, out)
    return out


# -- the C callbacks nutpie calls ------------------------------------------------------------
@intrinsic
def _voidptr(typingctx, address):
    """An address (int64) as a void pointer."""

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(types.int64), codegen


_LOGP_SIG = types.int64(
    types.uint64,
    types.CPointer(types.double),
    types.CPointer(types.double),
    types.CPointer(types.double),
    types.voidptr,
)
_EXPAND_SIG = types.int64(
    types.uint64,
    types.uint64,
    types.CPointer(types.double),
    types.CPointer(types.double),
    types.voidptr,
)


def _c_log_density(dim, x_, grad_, logp_, user_data):
    h = carray(user_data, (_H_LEN,), np.int64)
    if dim != h[_H_NDIM]:
        return -1
    n, p, G, Qt = h[_H_N], h[_H_P], h[_H_G], h[_H_QT]
    pc, n_mo = h[_H_PCOL], h[_H_NMO]
    pb, pf, nt, nz = h[_H_PB], h[_H_PF], h[_H_NT], h[_H_NZ]
    x = carray(x_, (dim,))
    grad = carray(grad_, (dim,))
    Xb = carray(_voidptr(h[_H_XB]), (pb, n), np.int8)
    bcol = carray(_voidptr(h[_H_BCOL]), (pb,), np.int64)
    Xf = carray(_voidptr(h[_H_XF]), (pf, n), np.float64)
    fcol = carray(_voidptr(h[_H_FCOL]), (pf,), np.int64)
    w = carray(_voidptr(h[_H_W]), (n,), np.float64)
    cells = carray(_voidptr(h[_H_CELLS]), (h[_H_NCELL], 4), np.int64)
    gT = carray(_voidptr(h[_H_GT]), (nt, n), np.int32)
    tmeta = carray(_voidptr(h[_H_TMETA]), (nt, 3), np.int64)
    Zt = carray(_voidptr(h[_H_ZT]), (nz, n), np.float64)
    X_shift = carray(_voidptr(h[_H_XMEAN]), (p,), np.float64)
    gmeta = carray(_voidptr(h[_H_GMETA]), (G, h[_H_GW]), np.int64)
    bpar = carray(_voidptr(h[_H_BPAR]), (pc, 3), np.float64)
    spar = carray(_voidptr(h[_H_SPAR]), (Qt, 5), np.float64)
    cpar = carray(_voidptr(h[_H_CPAR]), (6,), np.float64)
    W = carray(_voidptr(h[_H_WMAT]), (h[_H_SUML], p), np.float64)
    anc = carray(_voidptr(h[_H_PARENT]), (h[_H_SUML], G), np.int64)
    pt = h[_H_PT]
    T = carray(_voidptr(h[_H_T]), (pt, pt), np.float64)
    rpar = carray(_voidptr(h[_H_RPAR]), (6,), np.float64)
    # then the shares' concentrations, one per component (none without r2d2)
    rpar = carray(_voidptr(h[_H_RPAR]), (6 + np.int64(rpar[4]),), np.float64)
    rcomp = carray(_voidptr(h[_H_RCOMP]), (pt + Qt,), np.int64)
    rscale = carray(_voidptr(h[_H_RSCALE]), (Qt,), np.float64)
    rnc = carray(_voidptr(h[_H_RNC]), (pt,), np.float64)
    mometa = carray(_voidptr(h[_H_MOMETA]), (n_mo, 4), np.int64)
    mopar = carray(_voidptr(h[_H_MOPAR]), (n_mo, 8), np.float64)
    logp_[0] = -np.inf
    try:
        lp = log_density(
            x,
            grad,
            Xb,
            bcol,
            Xf,
            fcol,
            w,
            cells,
            gT,
            tmeta,
            Zt,
            X_shift,
            gmeta,
            bpar,
            spar,
            cpar,
            h[_H_LINK],
            h[_H_BFAM],
            h[_H_CFAM],
            h[_H_HIER],
            W,
            anc,
            h[_H_R2D2],
            T,
            rpar,
            rcomp,
            rscale,
            rnc,
            mometa,
            mopar,
        )
    except Exception:  # noqa: BLE001 (an error must not pass as a log density)
        return 1
    logp_[0] = lp
    if not np.isfinite(lp):
        return 4
    for k in range(dim):
        if not np.isfinite(grad[k]):
            return 3
    return 0


def _c_identity(dim, expanded, x_, out_, user_data):
    if dim != expanded:
        return -1
    x = carray(x_, (dim,))
    out = carray(out_, (expanded,))
    for k in range(dim):
        out[k] = x[k]
    return 0


@functools.cache
def callbacks():
    """The compiled C callbacks (log density, expansion): compiled on first use on a
    machine, then loaded from Numba's disk cache."""
    return (
        cfunc(_LOGP_SIG, cache=True)(_c_log_density),
        cfunc(_EXPAND_SIG, cache=True)(_c_identity),
    )


def evaluate(packed: Packed, x: np.ndarray) -> tuple[float, np.ndarray]:
    """Log density and gradient at ``x`` (the compiled kernel, called from Python)."""
    a = packed.arrays
    grad = np.empty(packed.n_dim)
    h = packed.header
    x = np.ascontiguousarray(x, dtype=np.float64)
    data = [a[name] for name in _DATA_ORDER]
    codes = [h[slot] for slot in (_H_LINK, _H_BFAM, _H_CFAM, _H_HIER)]
    r2d2 = [a[name] for name in ("T", "rpar", "rcomp", "rscale", "rnc")]
    mo = [a["mometa"], a["mopar"]]
    lp = log_density(x, grad, *data, *codes, a["W"], a["anc"], h[_H_R2D2], *r2d2, *mo)
    return lp, grad


# Numba's cache would keep this module's compiled code after an edit of the Numba
# functions it inlines from other files: recompile when any of them changed.
#: Whether this process found the cache stale and removed it.
GUARDED = (sys.modules[__name__], links_numba, vector_numba, links, packing)
CACHE_REFRESHED = kernel_cache.guard(list(GUARDED))
