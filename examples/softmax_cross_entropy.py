"""Softmax and cross-entropy, the classic tutorial walk-through: NumPy by hand, then minigrad as torch.

    python examples/softmax_cross_entropy.py
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import numpy as np  # noqa: E402

import minigrad as torch  # noqa: E402
import minigrad.nn as nn  # noqa: E402

#        -> 2.0              -> 0.65
# Linear -> 1.0  -> Softmax  -> 0.25   -> CrossEntropy(y, y_hat)
#        -> 0.1              -> 0.1
#
#     scores(logits)      probabilities
#                           sum = 1.0

# Softmax applies the exponential function to each element and normalizes by the sum of all these
# exponentials: it squashes the output to be between 0 and 1, a probability.
def softmax(x):
    return np.exp(x) / np.sum(np.exp(x), axis=0)


x = np.array([2.0, 1.0, 0.1])
outputs = softmax(x)
print("softmax numpy:", outputs)

x = torch.tensor([2.0, 1.0, 0.1])
outputs = torch.softmax(x, dim=0)  # along values along first axis
print("softmax minigrad:", outputs)


# Cross entropy loss, or log loss, measures the performance of a classification model whose output
# is a probability value between 0 and 1. The loss increases as the predicted probability diverges
# from the actual label.
def cross_entropy(actual, predicted):
    EPS = 1e-15
    predicted = np.clip(predicted, EPS, 1 - EPS)
    loss = -np.sum(actual * np.log(predicted))
    return loss  # / float(predicted.shape[0]) (standard normalization)


# y must be one hot encoded
# if class 0: [1 0 0]
# if class 1: [0 1 0]
# if class 2: [0 0 1]
Y = np.array([1, 0, 0])
Y_pred_good = np.array([0.7, 0.2, 0.1])
Y_pred_bad = np.array([0.1, 0.3, 0.6])
l1 = cross_entropy(Y, Y_pred_good)
l2 = cross_entropy(Y, Y_pred_bad)
print(f"Loss1 numpy: {l1:.4f}")
print(f"Loss2 numpy: {l2:.4f}")

# CrossEntropyLoss in minigrad, as in torch, applies log_softmax + nll_loss:
# -> the input must be raw logits, not softmax probabilities;
# -> Y has class labels, not one-hot; Y_pred has raw scores (logits), no softmax.
loss = nn.CrossEntropyLoss()

# target is of size nSamples = 1; each element has a class label 0, 1, or 2.
# Y (=target) contains class labels, not one-hot.
Y = torch.tensor([0])

# input is of size nSamples x nClasses = 1 x 3; y_pred (=input) must be raw, unnormalized scores
# (logits) for each class, not softmax.
Y_pred_good = torch.tensor([[2.0, 1.0, 0.1]])
Y_pred_bad = torch.tensor([[0.5, 2.0, 0.3]])
l1 = loss(Y_pred_good, Y)
l2 = loss(Y_pred_bad, Y)

print(f"minigrad Loss1: {l1.item():.4f}")  # 0.4170
print(f"minigrad Loss2: {l2.item():.4f}")  # 1.8406

# get predictions
_, predictions1 = torch.max(Y_pred_good, 1)
_, predictions2 = torch.max(Y_pred_bad, 1)
print(f"Actual class: {Y.item()}, Y_pred1: {predictions1.item()}, Y_pred2: {predictions2.item()}")

# allows batch loss for multiple samples
# target is of size nBatch = 3; each element has a class label 0, 1, or 2
Y = torch.tensor([2, 0, 1])

# input is of size nBatch x nClasses = 3 x 3; Y_pred are logits (not softmax)
Y_pred_good = torch.tensor(
    [[0.1, 0.2, 3.9],  # predict class 2
     [1.2, 0.1, 0.3],  # predict class 0
     [0.3, 2.2, 0.2]])  # predict class 1

Y_pred_bad = torch.tensor(
    [[0.9, 0.2, 0.1],
     [0.1, 0.3, 1.5],
     [1.2, 0.2, 0.5]])

l1 = loss(Y_pred_good, Y)
l2 = loss(Y_pred_bad, Y)
print(f"Batch Loss1: {l1.item():.4f}")
print(f"Batch Loss2: {l2.item():.4f}")

# get predictions
_, predictions1 = torch.max(Y_pred_good, 1)
_, predictions2 = torch.max(Y_pred_bad, 1)
print(f"Actual class: {Y}, Y_pred1: {predictions1}, Y_pred2: {predictions2}")
