"""A small custom model on KServe's Python model server, over the Open Inference
Protocol (v2), as KServe's docs write one: the fraud probability of each row of
three features, sigmoid(weights . row). Its metadata declares no inputs or
outputs (KServe's default), so the signature is not declared. Beside it,
`triage` takes text (a BYTES tensor) and answers a BYTES label per text:
"fraud" when the text names a declined or stolen card, else "other"; with
--triage_words, the words that mean fraud are those instead.

usage: kserve-model.py --model_name NAME --weights 0.5,-1,2 --http_port PORT
"""
import argparse

import numpy as np
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer, model_server
from kserve.utils.utils import generate_uuid

# KServe's own options (--model_name, --http_port, ...) and the weights.
parser = argparse.ArgumentParser(parents=[model_server.parser])
parser.add_argument("--weights", required=True, help="three numbers, comma-separated")
parser.add_argument("--triage_words", default="declined,stolen", help="words that make a text fraud, comma-separated")
args, _ = parser.parse_known_args()


class Fraud(Model):
    def __init__(self, name: str, weights: list[float]):
        super().__init__(name)
        self.weights = np.array(weights, dtype=np.float32)
        self.ready = True

    def predict(self, payload: InferRequest, headers=None) -> InferResponse:
        rows = payload.inputs[0].as_numpy().reshape(-1, 3).astype(np.float32)
        scores = 1 / (1 + np.exp(-(rows @ self.weights)))
        out = InferOutput(name="fraud", shape=[len(scores)], datatype="FP32", data=scores.round(6).tolist())
        return InferResponse(model_name=self.name, infer_outputs=[out], response_id=generate_uuid())


class Triage(Model):
    def __init__(self, words: list[str]):
        super().__init__("triage")
        self.words = words
        self.ready = True

    def predict(self, payload: InferRequest, headers=None) -> InferResponse:
        texts = [t.decode() if isinstance(t, bytes) else str(t) for t in payload.inputs[0].as_numpy().ravel()]
        labels = ["fraud" if any(w in t.lower() for w in self.words) else "other" for t in texts]
        out = InferOutput(name="label", shape=[len(labels)], datatype="BYTES", data=labels)
        return InferResponse(model_name=self.name, infer_outputs=[out], response_id=generate_uuid())


if __name__ == "__main__":
    weights = [float(w) for w in args.weights.split(",")]
    models = [Fraud(args.model_name, weights), Triage(args.triage_words.split(","))]
    ModelServer(enable_grpc=False).start(models)
