import pickle

from hx.cloud.catalog import Catalog
from hx.cloud.placement import PlacementOptions, candidate_sets, place
from hx.lab.placement_rf import PlacementRanker
from hx.lab.workload_mix import standard_mix

CAT = Catalog.builtin()


def test_ranker_learns_and_round_trips() -> None:
    train = standard_mix(30, seed=11)
    csets = candidate_sets(train, CAT)
    ranker = PlacementRanker(n_estimators=20, seed=1).fit(
        train, csets, place(train, CAT, PlacementOptions(explain=False))
    )
    test = standard_mix(20, seed=12)
    picks = ranker.predict(test, candidate_sets(test, CAT))
    assert picks and all(":" in v for v in picks.values())
    clone = ranker.clone()
    assert clone.get_config() == ranker.get_config()
    clone.set_state(pickle.loads(pickle.dumps(ranker.get_state())))
    assert clone.predict(test, candidate_sets(test, CAT)) == picks
