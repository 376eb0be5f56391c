# Trains the test suite's scikit-learn model on the iris data set that
# scikit-learn ships, saves it for MLServer, and prints its classes for the
# first flower of each species (rows 0, 50 and 100): the golden answer.
#   train-iris.py MODEL.joblib
import sys, joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
X, y = load_iris(return_X_y=True)
model = LogisticRegression(max_iter=1000).fit(X, y)
joblib.dump(model, sys.argv[1])
print(model.predict(X[[0, 50, 100]]).tolist())
