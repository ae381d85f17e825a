//! A model's large weights decoded once and lent to each of its ONNX Runtime sessions (ONNX
//! Runtime's `AddInitializer`), which read them in place: a pool of one session per core then
//! holds one copy of them, not one per core. The n-gram model's 4 MB table was held 16 times at
//! `--threads 16`, and the word models' GloVe file (external data) was mapped once per session
//! (docs/performance.md).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use onnx_protobuf::{GraphProto, TensorProto, tensor_proto::DataLocation, tensor_proto::DataType};
use ort::session::builder::SessionBuilder;
use ort::value::{DynValue, Tensor};

/// The smallest weight worth sharing: below it, a copy per session costs less than a core's cache.
pub const SMALLEST_SHARED_BYTES: usize = 64 * 1024;

/// The float weights of a graph of at least [`SMALLEST_SHARED_BYTES`], stored in the file itself
/// or as external data beside it, each decoded into one ONNX Runtime value shared by every session.
#[derive(Debug, Default)]
pub struct SharedWeights(Vec<(String, Arc<DynValue>)>);

impl SharedWeights {
    /// Decodes `graph`'s weights that are worth sharing, reading external data from `folder`
    /// (canonical: the model file's own), which no weight may name a file outside of.
    pub fn of(graph: &GraphProto, folder: &Path) -> Result<Self> {
        // The values are ONNX Runtime's: it is loaded before the first is made.
        crate::runtime::environment()?;
        let shared = graph
            .initializer
            .iter()
            .filter_map(|tensor| Some((tensor, float_bytes(tensor)?)))
            .filter(|&(_, bytes)| bytes >= SMALLEST_SHARED_BYTES)
            .map(|(tensor, bytes)| {
                let values = match (tensor.data_location.enum_value(), tensor.float_data.is_empty()) {
                    (Ok(DataLocation::EXTERNAL), _) => little_endian(&read_external(tensor, folder, bytes)?),
                    (_, true) => little_endian(&tensor.raw_data),
                    (_, false) => tensor.float_data.clone(),
                };
                let value = Tensor::from_array((tensor.dims.clone(), values))
                    .with_context(|| format!("cannot decode weight {}", tensor.name))?;
                Ok((tensor.name.clone(), Arc::new(value.into_dyn())))
            })
            .collect::<Result<_>>()?;
        Ok(Self(shared))
    }

    /// Lends every shared weight to the session `builder` will make, in place of the graph's own.
    pub fn lend(&self, builder: SessionBuilder) -> Result<SessionBuilder> {
        self.0.iter().try_fold(builder, |builder, (name, value)| {
            builder
                .with_initializer(name, Arc::clone(value))
                .map_err(ort::Error::<()>::from)
                .with_context(|| format!("cannot share weight {name}"))
        })
    }
}

/// The size of a float tensor's values: stored in the file as `float_data` or whole
/// little-endian `raw_data`, or as external data of the size its shape gives; `None` for any
/// other tensor.
fn float_bytes(tensor: &TensorProto) -> Option<usize> {
    if tensor.data_type != DataType::FLOAT as i32 {
        return None;
    }
    match (tensor.data_location.enum_value(), tensor.float_data.len(), tensor.raw_data.len()) {
        (Ok(DataLocation::EXTERNAL), _, _) => {
            tensor.dims.iter().try_fold(size_of::<f32>(), |bytes, &dim| bytes.checked_mul(usize::try_from(dim).ok()?))
        }
        (Ok(DataLocation::DEFAULT), 0, raw) if raw % size_of::<f32>() == 0 => Some(raw),
        (Ok(DataLocation::DEFAULT), 0, _) => None,
        (Ok(DataLocation::DEFAULT), listed, _) => Some(listed * size_of::<f32>()),
        (Err(_), _, _) => None,
    }
}

/// Little-endian `f32`s.
fn little_endian(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(size_of::<f32>()).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// The `bytes` of an external weight's values, read from the file its `location` names in
/// `folder`, from its `offset`. The file must lie in `folder`, as ONNX Runtime requires of
/// external data: a location with `..`, an absolute one, or a link out of the folder is refused.
fn read_external(tensor: &TensorProto, folder: &Path, bytes: usize) -> Result<Vec<u8>> {
    let entry = |key: &str| tensor.external_data.iter().find(|e| e.key == key).map(|e| e.value.as_str());
    (|| -> Result<Vec<u8>> {
        let location = entry("location").context("it names no location")?;
        let offset: u64 = entry("offset").map_or(Ok(0), str::parse).context("its offset is not a number")?;
        if let Some(length) = entry("length") {
            let length: usize = length.parse().context("its length is not a number")?;
            if length != bytes {
                bail!("its length is {length} bytes, but its shape {:?} holds {bytes}", tensor.dims);
            }
        }
        let relative = Path::new(location);
        if !relative.components().all(|part| matches!(part, Component::Normal(_))) {
            bail!("its location {location:?} is not a file in the model's folder {}", folder.display());
        }
        let path = folder.join(relative);
        let canonical = path.canonicalize().with_context(|| format!("cannot open {}", path.display()))?;
        if !canonical.starts_with(folder) {
            bail!("its file {} leads out of the model's folder {}", path.display(), folder.display());
        }
        let mut file = File::open(&canonical).with_context(|| format!("cannot open {}", path.display()))?;
        let mut values = vec![0; bytes];
        file.seek(SeekFrom::Start(offset))
            .and_then(|_| file.read_exact(&mut values))
            .with_context(|| format!("cannot read {bytes} bytes at offset {offset} of {}", path.display()))?;
        Ok(values)
    })()
    .with_context(|| format!("cannot read external weight {}", tensor.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(name: &str, values: usize) -> TensorProto {
        let mut t = TensorProto::new();
        t.name = name.to_owned();
        t.data_type = DataType::FLOAT as i32;
        t.dims = vec![values as i64];
        t
    }

    /// A float tensor of `values` values stored as external data in `location`, from `offset`.
    fn external(name: &str, values: usize, location: &str, offset: u64) -> TensorProto {
        let mut t = tensor(name, values);
        t.data_location = DataLocation::EXTERNAL.into();
        for (key, value) in [("location", location.to_owned()), ("offset", offset.to_string())] {
            let mut entry = onnx_protobuf::StringStringEntryProto::new();
            entry.key = key.to_owned();
            entry.value = value;
            t.external_data.push(entry);
        }
        t
    }

    #[test]
    fn large_float_weights_are_shared_and_the_rest_are_not() {
        let big = SMALLEST_SHARED_BYTES / size_of::<f32>();
        let folder = tempfile::tempdir().unwrap();
        let folder = folder.path().canonicalize().unwrap();
        let stored: Vec<u8> = [0u8; 8].into_iter().chain((0..big).flat_map(|i| (i as f32).to_le_bytes())).collect();
        std::fs::write(folder.join("weights.bin"), stored).unwrap();
        let mut listed = tensor("listed", big);
        listed.float_data = vec![0.5; big];
        let mut raw = tensor("raw", big);
        raw.raw_data = vec![0.25f32; big].iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut small = tensor("small", 4);
        small.float_data = vec![1.0; 4];
        let mut ints = tensor("ints", big);
        ints.data_type = DataType::INT64 as i32;
        ints.int64_data = vec![1; big];
        let mut torn = tensor("torn", big);
        torn.raw_data = vec![0; big * size_of::<f32>() + 1];
        let mut graph = GraphProto::new();
        graph.initializer = vec![listed, raw, small, ints, external("external", big, "weights.bin", 8), torn];

        let shared = SharedWeights::of(&graph, &folder).unwrap();
        let names: Vec<&str> = shared.0.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["listed", "raw", "external"]);
        let (_, raw) = shared.0[1].1.try_extract_tensor::<f32>().unwrap();
        assert!(raw.iter().all(|&v| v == 0.25) && raw.len() == big);
        let (_, read) = shared.0[2].1.try_extract_tensor::<f32>().unwrap();
        assert!(read.iter().enumerate().all(|(i, &v)| v == i as f32) && read.len() == big);
    }

    #[test]
    fn external_data_outside_the_models_folder_is_refused() {
        let big = SMALLEST_SHARED_BYTES / size_of::<f32>();
        let root = tempfile::tempdir().unwrap();
        let root = root.path().canonicalize().unwrap();
        let folder = root.join("model");
        std::fs::create_dir(&folder).unwrap();
        let outside = root.join("secret.bin");
        std::fs::write(&outside, vec![0u8; big * size_of::<f32>()]).unwrap();
        std::os::unix::fs::symlink(&outside, folder.join("link.bin")).unwrap();
        for (location, refusal) in [
            ("../secret.bin", "is not a file in the model's folder"),
            (outside.to_str().unwrap(), "is not a file in the model's folder"),
            ("link.bin", "leads out of the model's folder"),
            ("missing.bin", "cannot open"),
        ] {
            let mut graph = GraphProto::new();
            graph.initializer = vec![external("table", big, location, 0)];
            let error = format!("{:#}", SharedWeights::of(&graph, &folder).unwrap_err());
            assert!(
                error.contains("cannot read external weight table") && error.contains(refusal),
                "{location}: {error}"
            );
        }
    }

    #[test]
    fn external_data_shorter_than_its_shape_is_an_error() {
        let big = SMALLEST_SHARED_BYTES / size_of::<f32>();
        let folder = tempfile::tempdir().unwrap();
        let folder = folder.path().canonicalize().unwrap();
        std::fs::write(folder.join("short.bin"), vec![0u8; big * size_of::<f32>() - 1]).unwrap();
        let mut graph = GraphProto::new();
        graph.initializer = vec![external("table", big, "short.bin", 0)];
        let error = format!("{:#}", SharedWeights::of(&graph, &folder).unwrap_err());
        assert!(error.contains(&format!("cannot read {SMALLEST_SHARED_BYTES} bytes at offset 0")), "{error}");
    }
}
