"""The lab: everything that runs the simulator to train, replay, drill or benchmark, above the engines.

The engines (``hx.detect``, ``hx.deploy``, ``hx.heal``, ``hx.forecast``, ``hx.scale``, ``hx.cost``, ``hx.cloud``,
``hx.improve``) never import this package, the simulator or the wiring; the demo, the benchmarks, the CLI and the
API's drill route do.

- :mod:`hx.lab.strategy_training`: the deployment-strategy model trained on simulated rollouts;
- :mod:`hx.lab.heal_scenarios`, :mod:`hx.lab.alert_rules`, :mod:`hx.lab.incident_training`: fault scenarios, the
  threshold rules standing in for Prometheus alerting, the incident classifier trained on them;
- :mod:`hx.lab.scaling_replay`, :mod:`hx.lab.scaling_plot`: traces replayed through the fleet under a scaling policy;
- :mod:`hx.lab.placement_rf`, :mod:`hx.lab.workload_mix`: the placement benchmark's Random Forest and workload mixes;
- :mod:`hx.lab.dr_drill`: DR drills on a simulated fleet.
"""
