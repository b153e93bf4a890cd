"""The lab: the dev stack applied with the real engine to the lab's single-node Kubernetes
(labcluster), and the smoke check run there as a Job (docs/lab.md).

    python -m lab up [--set KEY=VALUE]   what scripts/lab-up runs after its install steps
    python -m lab smoke                  the smoke Job again, against what is deployed
    python -m lab down                   what scripts/lab-down runs
    python -m lab objectstore up|down    the lab's S3 object store for the backups (lab/objectstore.py)
"""
