"""scikeras' test suite (adriangb/scikeras at e92a7dc, MIT licence: see
LICENSE.scikeras), adapted to our estimators by a class swap and a short budget
(see _swap.py and README.md). Assertions are unchanged."""
