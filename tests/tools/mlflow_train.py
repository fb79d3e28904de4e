"""Trains and registers a tiny model twice with MLflow, as a team would, for the bridge test.

Usage: python mlflow_train.py TRACKING_URI
Run 1 reads the orders Delta table at version 7 and a pandas frame (only MLflow's digest names
it); run 2 reads version 8. Each registers a version of the model `churn`; version 2 gets the
alias `champion`. A third run logs a model `candidate` it never registers. Prints the three
MLflow run ids, one per line.
"""

import sys

import mlflow
import pandas as pd
from mlflow.data.delta_dataset_source import DeltaDatasetSource
from mlflow.tracking import MlflowClient


class Churn(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


def main(uri):
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("churn-training")
    ids = []
    for i, version in enumerate([7, 8]):
        with mlflow.start_run(run_name=f"train-{i + 1}") as run:
            orders = pd.DataFrame({"id": [1, 2, 3], "amount": [10.0, 20.0, 30.0 + i]})
            source = DeltaDatasetSource(path="s3://lake/orders", delta_table_version=version)
            mlflow.log_input(mlflow.data.from_pandas(orders, source=source, name="orders"), context="training")
            features = pd.DataFrame({"f": [0.1 * i, 0.2]})
            mlflow.log_input(mlflow.data.from_pandas(features, name="features"), context="training")
            mlflow.log_param("learning_rate", 0.1 * (i + 1))
            mlflow.set_tag("mlflow.source.git.commit", f"{i + 1:040x}")
            mlflow.pyfunc.log_model(name="model", python_model=Churn(), registered_model_name="churn")
            ids.append(run.info.run_id)
    # A candidate logged but never registered: a logged model, still an output of its run.
    with mlflow.start_run(run_name="candidate") as run:
        mlflow.log_input(mlflow.data.from_pandas(pd.DataFrame({"x": [1]}), name="features"), context="training")
        mlflow.pyfunc.log_model(name="candidate", python_model=Churn())
        ids.append(run.info.run_id)
    MlflowClient().set_registered_model_alias("churn", "champion", "2")
    print("\n".join(ids))


if __name__ == "__main__":
    main(sys.argv[1])
