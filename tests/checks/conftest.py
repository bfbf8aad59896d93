"""Fixtures shared by the checks' tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def _local_cluster():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture
def dask_client(_local_cluster):
    """A client of a LocalCluster of two single-threaded worker processes.

    One cluster serves the session's tests that send work to Dask (SBC in
    test_batches.py, leave-one-mission-out in test_group_folds.py), shared because its
    start is the slow part of such a test: starting the cluster, and in each worker
    importing PyMC and bayesresp and loading the compiled kernel, takes about 10 s, which
    a second cluster would pay again. What a test sends travels to the workers as before
    (pickled, to other processes), and every result is seeded by its task alone, so the
    tests' bit-for-bit comparisons do not depend on what ran there before. A worker that
    a test killed is restarted by its nanny: each test starts once both workers are up.
    """
    _local_cluster.wait_for_workers(2, timeout=120)
    return _local_cluster
