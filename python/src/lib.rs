//! The `imdb_sentiment` Python package's native part: the SQL functions `sentiment`,
//! `sentiment_label`, `sentiment_explain` and `sentiment_version` handed to datafusion-python
//! through `datafusion-ffi` (each object's `__datafusion_scalar_udf__` returns the PyCapsule it
//! reads), scoring of plain Arrow string arrays through the Arrow PyCapsule interface (zero-copy
//! both ways), and the provenance a scored file's footer should carry.
//!
//! Models are opened once per (folder, threads, provider) and shared by every function and call
//! of the process. Failures are Python exceptions: `ValueError` for an unknown model, `TypeError`
//! for a column that is not text, `SentimentError` for the rest (a missing models folder or ONNX
//! Runtime library, with where it looked); the GIL is released while reviews are scored.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use arrow::array::{Array, make_array};
use arrow::ffi::{FFI_ArrowArray, FFI_ArrowSchema, from_ffi, to_ffi};
use datafusion::logical_expr::ScalarUDF;
use datafusion_ffi::udf::FFI_ScalarUDF;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict, PyTuple};
use sentiment::catalog::Catalog;
use sentiment::provenance::Provenance;
use sentiment::runtime::Provider;

create_exception!(_native, SentimentError, PyException, "Scoring could not run: models, ONNX Runtime or the data.");

/// The capsule name datafusion-python expects for a scalar function.
const SCALAR_UDF_CAPSULE: &std::ffi::CStr = c"datafusion_scalar_udf";
/// The Arrow PyCapsule interface's names for a schema and an array.
const ARROW_SCHEMA_CAPSULE: &std::ffi::CStr = c"arrow_schema";
const ARROW_ARRAY_CAPSULE: &std::ffi::CStr = c"arrow_array";

/// An error as a `SentimentError`, with its whole chain of causes.
fn error(e: impl Into<anyhow::Error>) -> PyErr {
    SentimentError::new_err(format!("{:#}", e.into()))
}

/// Where the models come from and how they run: the Python-side keyword arguments.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ModelsKey {
    dir: PathBuf,
    threads: usize,
    provider: Provider,
}

impl ModelsKey {
    fn new(models_dir: Option<PathBuf>, threads: Option<usize>, provider: &str) -> PyResult<Self> {
        let provider = provider.parse::<Provider>().map_err(|e| PyValueError::new_err(e.to_string()))?;
        let threads = threads.unwrap_or_else(sentiment::runtime::default_threads);
        if threads == 0 {
            return Err(PyValueError::new_err("threads must be at least 1"));
        }
        Ok(Self { dir: models_dir.unwrap_or_else(Catalog::default_dir), threads, provider })
    }

    /// The models of this folder, opened on first use and shared afterwards.
    fn catalog(&self) -> PyResult<Arc<Catalog>> {
        static OPENED: OnceLock<Mutex<HashMap<ModelsKey, Arc<Catalog>>>> = OnceLock::new();
        let mut opened = OPENED.get_or_init(Mutex::default).lock().unwrap_or_else(|p| p.into_inner());
        if let Some(catalog) = opened.get(self) {
            return Ok(catalog.clone());
        }
        let catalog = Arc::new(Catalog::open(&self.dir, self.threads, self.provider).map_err(error)?);
        opened.insert(self.clone(), catalog.clone());
        Ok(catalog)
    }
}

/// The model called `name` (or the default one), checked: `ValueError` names the models there are.
fn model_name(catalog: &Catalog, name: Option<String>) -> PyResult<String> {
    let name = name.unwrap_or_else(|| sentiment::catalog::DEFAULT_MODEL.to_owned());
    catalog.card(&name).map_err(|e| PyValueError::new_err(format!("{e:#}")))?;
    Ok(name)
}

/// One SQL function, ready for `datafusion.udf(...)` and `SessionContext.register_udf(...)`.
#[pyclass(module = "imdb_sentiment", name = "SqlFunction", frozen)]
struct SqlFunction {
    udf: Arc<ScalarUDF>,
}

#[pymethods]
impl SqlFunction {
    /// The function's SQL name.
    #[getter]
    fn name(&self) -> &str {
        self.udf.name()
    }

    /// The function as datafusion-python takes it from another library.
    fn __datafusion_scalar_udf__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        PyCapsule::new_with_value(py, FFI_ScalarUDF::from(self.udf.clone()), SCALAR_UDF_CAPSULE)
    }

    fn __repr__(&self) -> String {
        format!("<imdb_sentiment SQL function {}>", self.udf.name())
    }
}

/// The four SQL functions over the models of `models_dir` (default: `$SENTIMENT_MODELS`, else
/// the source tree's `models/`), running on `threads` cores on `provider`.
#[pyfunction]
#[pyo3(signature = (models_dir=None, threads=None, provider="cpu"))]
fn functions(models_dir: Option<PathBuf>, threads: Option<usize>, provider: &str) -> PyResult<Vec<SqlFunction>> {
    let catalog = ModelsKey::new(models_dir, threads, provider)?.catalog()?;
    Ok(sentiment_udf::functions(catalog).into_iter().map(|udf| SqlFunction { udf }).collect())
}

/// P(positive) for each review of an Arrow string array, given as the `(schema, array)` capsules
/// of its `__arrow_c_array__()`; returns the float32 result's capsules. NULL reviews give NULL.
#[pyfunction]
#[pyo3(signature = (capsules, model=None, models_dir=None, threads=None, provider="cpu"))]
fn score<'py>(
    py: Python<'py>,
    capsules: &Bound<'py, PyTuple>,
    model: Option<String>,
    models_dir: Option<PathBuf>,
    threads: Option<usize>,
    provider: &str,
) -> PyResult<(Bound<'py, PyCapsule>, Bound<'py, PyCapsule>)> {
    let catalog = ModelsKey::new(models_dir, threads, provider)?.catalog()?;
    let name = model_name(&catalog, model)?;
    let reviews = import_array(capsules)?;
    if !sentiment::batch::is_text_type(reviews.data_type()) {
        return Err(PyTypeError::new_err(format!(
            "reviews must be an Arrow string array, not {}",
            reviews.data_type()
        )));
    }
    let scores = py.detach(|| {
        let model = catalog.model(&name)?;
        sentiment::batch::score_array(&model, reviews.as_ref())
    });
    let (array, schema) = to_ffi(&scores.map_err(error)?.to_data()).map_err(error)?;
    Ok((
        PyCapsule::new_with_value(py, schema, ARROW_SCHEMA_CAPSULE)?,
        PyCapsule::new_with_value(py, array, ARROW_ARRAY_CAPSULE)?,
    ))
}

/// Takes the array out of `(schema, array)` capsules of the Arrow PyCapsule interface.
fn import_array(capsules: &Bound<'_, PyTuple>) -> PyResult<Arc<dyn Array>> {
    let (schema, array): (Bound<'_, PyCapsule>, Bound<'_, PyCapsule>) = capsules.extract()?;
    let schema = schema.pointer_checked(Some(ARROW_SCHEMA_CAPSULE))?.cast::<FFI_ArrowSchema>();
    let array = array.pointer_checked(Some(ARROW_ARRAY_CAPSULE))?.cast::<FFI_ArrowArray>();
    // SAFETY: the capsule holds a valid array (the interface's contract), released or not.
    if unsafe { array.as_ref() }.is_released() {
        return Err(PyValueError::new_err(
            "this array capsule was consumed already: each call takes a fresh __arrow_c_array__()",
        ));
    }
    // SAFETY: the capsules hold a valid schema and an array not yet released (checked above); the
    // array is moved out, leaving a released one for the capsule's destructor, as the interface
    // asks of a consumer; the schema is only borrowed while the capsule lives.
    let data = unsafe { from_ffi(FFI_ArrowArray::from_raw(array.as_ptr()), schema.as_ref()) }.map_err(error)?;
    Ok(make_array(data))
}

/// The key-value pairs a Parquet footer should carry for scores made with `models` (default: the
/// default model): package, version, model, the `.onnx` file's SHA-256, contract version,
/// provider and the time, as `scorer score` writes them.
#[pyfunction]
#[pyo3(signature = (models=None, models_dir=None, threads=None, provider="cpu"))]
fn provenance<'py>(
    py: Python<'py>,
    models: Option<Vec<String>>,
    models_dir: Option<PathBuf>,
    threads: Option<usize>,
    provider: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let catalog = ModelsKey::new(models_dir, threads, provider)?.catalog()?;
    let names = match models {
        Some(names) => names.into_iter().map(|n| model_name(&catalog, Some(n))).collect::<PyResult<Vec<_>>>()?,
        None => vec![model_name(&catalog, None)?],
    };
    let pairs = py.detach(|| Provenance::of(&catalog, &names)).map_err(error)?.key_values();
    let dict = PyDict::new(py);
    for (key, value) in pairs {
        dict.set_item(key, value)?;
    }
    Ok(dict)
}

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<SqlFunction>()?;
    module.add("SentimentError", module.py().get_type::<SentimentError>())?;
    module.add_function(wrap_pyfunction!(functions, module)?)?;
    module.add_function(wrap_pyfunction!(score, module)?)?;
    module.add_function(wrap_pyfunction!(provenance, module)?)?;
    Ok(())
}
