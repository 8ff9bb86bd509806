"""The original tutorial's entry script, kept as the baseline for benchmarks.

Same init()/run() as the tutorial, loading this project's artifacts (the classifier from
XGBoost's own format instead of a pickle). Never deployed.
"""

import json
import os

import joblib
import numpy as np
import pandas as pd
import xgboost as xgb


def init():
    global model_pipe
    global model_xgb
    model_dir = os.environ["AZUREML_MODEL_DIR"]
    model_pipe = joblib.load(os.path.join(model_dir, "pipeline_processing.pkl"))
    model_xgb = xgb.XGBClassifier()
    model_xgb.load_model(os.path.join(model_dir, "modelML2.ubj"))


def run(raw_data):
    data = np.array(json.loads(raw_data)["data"])
    df = pd.DataFrame(
        data,
        columns=[
            "CreditScore", "Geography", "Gender", "Age", "Tenure",
            "Balance", "NumOfProducts", "HasCrCard", "IsActiveMember", "EstimatedSalary",
        ],
    )  # fmt: skip
    predictions = model_xgb.predict_proba(model_pipe.transform(df))
    return json.dumps(predictions.tolist())
