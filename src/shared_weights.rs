//! A model's large weights decoded once and lent to each of its ONNX Runtime sessions (ONNX
//! Runtime's `AddInitializer`), which read them in place: a pool of one session per core then
//! holds one copy of them, not one per core. The n-gram model's 4 MB table was held 16 times at
//! `--threads 16` (docs/performance.md).

use std::sync::Arc;

use anyhow::{Context, Result};
use onnx_protobuf::{GraphProto, TensorProto, tensor_proto::DataLocation, tensor_proto::DataType};
use ort::session::builder::SessionBuilder;
use ort::value::{DynValue, Tensor};

/// The smallest weight worth sharing: below it, a copy per session costs less than a core's cache.
pub const SMALLEST_SHARED_BYTES: usize = 64 * 1024;

/// The float weights of a graph stored in the file itself (not external data) and of at least
/// [`SMALLEST_SHARED_BYTES`], each decoded into one ONNX Runtime value shared by every session.
#[derive(Debug, Default)]
pub struct SharedWeights(Vec<(String, Arc<DynValue>)>);

impl SharedWeights {
    /// Decodes `graph`'s weights that are worth sharing.
    pub fn of(graph: &GraphProto) -> Result<Self> {
        // The values are ONNX Runtime's: it is loaded before the first is made.
        crate::runtime::environment()?;
        let shared = graph
            .initializer
            .iter()
            .filter(|tensor| inline_float_bytes(tensor).is_some_and(|bytes| bytes >= SMALLEST_SHARED_BYTES))
            .map(|tensor| {
                let values = if tensor.float_data.is_empty() {
                    tensor
                        .raw_data
                        .chunks_exact(size_of::<f32>())
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect()
                } else {
                    tensor.float_data.clone()
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

/// The size of a float tensor's values stored in the file, as either `float_data` or whole
/// little-endian `raw_data`; `None` for any other tensor.
fn inline_float_bytes(tensor: &TensorProto) -> Option<usize> {
    let inline = tensor.data_location.enum_value() == Ok(DataLocation::DEFAULT);
    if !inline || tensor.data_type != DataType::FLOAT as i32 {
        return None;
    }
    match (tensor.float_data.len(), tensor.raw_data.len()) {
        (0, raw) if raw % size_of::<f32>() == 0 => Some(raw),
        (0, _) => None,
        (listed, _) => Some(listed * size_of::<f32>()),
    }
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

    #[test]
    fn large_inline_float_weights_are_shared_and_the_rest_are_not() {
        let big = SMALLEST_SHARED_BYTES / size_of::<f32>();
        let mut listed = tensor("listed", big);
        listed.float_data = vec![0.5; big];
        let mut raw = tensor("raw", big);
        raw.raw_data = vec![0.25f32; big].iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut small = tensor("small", 4);
        small.float_data = vec![1.0; 4];
        let mut ints = tensor("ints", big);
        ints.data_type = DataType::INT64 as i32;
        ints.int64_data = vec![1; big];
        let mut external = tensor("external", big);
        external.data_location = DataLocation::EXTERNAL.into();
        let mut torn = tensor("torn", big);
        torn.raw_data = vec![0; big * size_of::<f32>() + 1];
        let mut graph = GraphProto::new();
        graph.initializer = vec![listed, raw, small, ints, external, torn];

        let shared = SharedWeights::of(&graph).unwrap();
        let names: Vec<&str> = shared.0.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["listed", "raw"]);
        let (_, raw) = shared.0[1].1.try_extract_tensor::<f32>().unwrap();
        assert!(raw.iter().all(|&v| v == 0.25) && raw.len() == big);
    }
}
