//! A small ONNX graph writer over the `onnx-protobuf` message types: the trainer describes each
//! model's inference graph with it, initialised from the trained tch tensors.

use std::path::Path;

use anyhow::{Context, Result};
use onnx_protobuf::{
    AttributeProto, GraphProto, Message, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto,
    TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
    attribute_proto::AttributeType,
    tensor_proto::{DataLocation, DataType},
    tensor_shape_proto::dimension::Value as Dim,
    type_proto,
};
use tch::{Kind, Tensor, nn};

/// The ONNX opset the exported files use.
pub const OPSET: i64 = 17;
/// The ONNX IR version matching [`OPSET`].
const IR_VERSION: i64 = 8;

/// One dimension of a declared input or output: fixed, or named and free (the batch).
#[derive(Debug, Clone, Copy)]
pub enum Dimension {
    /// A fixed size.
    Fixed(i64),
    /// A size known only at run time, by this name.
    Named(&'static str),
}

/// An ONNX graph under construction; node outputs get generated names.
#[derive(Debug, Default)]
pub struct Graph {
    graph: GraphProto,
    counter: usize,
}

/// An attribute of a node.
pub enum Attr {
    /// An integer.
    Int(&'static str, i64),
    /// A list of integers.
    Ints(&'static str, Vec<i64>),
    /// A float.
    Float(&'static str, f32),
    /// A string.
    Str(&'static str, &'static str),
}

impl Graph {
    /// An empty graph with the given name.
    pub fn new(name: &str) -> Self {
        let mut graph = GraphProto::new();
        graph.name = name.to_owned();
        Self { graph, counter: 0 }
    }

    /// Declares a graph input.
    pub fn input(&mut self, name: &str, element: DataType, dims: &[Dimension]) -> String {
        self.graph.input.push(value_info(name, element, dims));
        name.to_owned()
    }

    /// Declares `value` as a graph output under `name` (through an Identity node).
    pub fn output(&mut self, value: &str, name: &str, element: DataType, dims: &[Dimension]) {
        self.node_named("Identity", &[value], name, vec![]);
        self.graph.output.push(value_info(name, element, dims));
    }

    /// Adds a float initializer holding `tensor`'s values.
    pub fn weight(&mut self, hint: &str, tensor: &Tensor) -> String {
        let dims = tensor.size();
        let values = Vec::<f32>::try_from(tensor.detach().to_kind(Kind::Float).flatten(0, -1))
            .expect("a float tensor converts to Vec<f32>");
        self.floats(hint, &dims, &values)
    }

    /// Adds a float initializer.
    pub fn floats(&mut self, hint: &str, dims: &[i64], values: &[f32]) -> String {
        let mut t = self.tensor(hint, DataType::FLOAT, dims);
        t.float_data = values.to_vec();
        self.push_initializer(t)
    }

    /// Adds an int64 initializer.
    pub fn ints(&mut self, hint: &str, dims: &[i64], values: &[i64]) -> String {
        let mut t = self.tensor(hint, DataType::INT64, dims);
        t.int64_data = values.to_vec();
        self.push_initializer(t)
    }

    /// Adds a float initializer whose raw little-endian values are `length` bytes at `offset` of
    /// the file `location`, beside the model file.
    pub fn external_floats(&mut self, hint: &str, dims: &[i64], location: &str, offset: u64, length: u64) -> String {
        let mut t = self.tensor(hint, DataType::FLOAT, dims);
        t.data_location = DataLocation::EXTERNAL.into();
        for (key, value) in
            [("location", location.to_owned()), ("offset", offset.to_string()), ("length", length.to_string())]
        {
            let mut entry = StringStringEntryProto::new();
            entry.key = key.to_owned();
            entry.value = value;
            t.external_data.push(entry);
        }
        self.push_initializer(t)
    }

    /// Adds a node with one output and returns the output's name.
    pub fn op(&mut self, op_type: &str, inputs: &[&str], attrs: Vec<Attr>) -> String {
        self.counter += 1;
        let output = format!("{}_{}", op_type.to_ascii_lowercase(), self.counter);
        self.node_named(op_type, inputs, &output, attrs);
        output
    }

    /// Adds a node with `n` outputs and returns their names.
    pub fn op_n(&mut self, op_type: &str, inputs: &[&str], n: usize, attrs: Vec<Attr>) -> Vec<String> {
        self.counter += 1;
        let outputs: Vec<String> =
            (0..n).map(|i| format!("{}_{}_{i}", op_type.to_ascii_lowercase(), self.counter)).collect();
        let mut node = node(op_type, inputs, attrs);
        node.output = outputs.clone();
        self.graph.node.push(node);
        outputs
    }

    /// `x · Wᵀ + b` for a tch linear layer, over the last axis of `x`.
    pub fn linear(&mut self, x: &str, layer: &nn::Linear) -> String {
        let weight = self.weight("linear_weight", &layer.ws.tr());
        let product = self.op("MatMul", &[x, &weight], vec![]);
        match &layer.bs {
            Some(bias) => {
                let bias = self.weight("linear_bias", bias);
                self.op("Add", &[&product, &bias], vec![])
            }
            None => product,
        }
    }

    /// Reshapes `x` to the constant shape `shape` (-1 and 0 as in ONNX Reshape).
    pub fn reshape(&mut self, x: &str, shape: &[i64]) -> String {
        let shape = self.ints("shape", &[shape.len() as i64], shape);
        self.op("Reshape", &[x, &shape], vec![])
    }

    /// Writes the model with its producer name and metadata to `path`.
    pub fn save(self, path: &Path, doc: &str, metadata: &[(&str, String)]) -> Result<()> {
        let mut model = ModelProto::new();
        model.ir_version = IR_VERSION;
        model.producer_name = env!("CARGO_PKG_NAME").to_owned();
        model.producer_version = env!("CARGO_PKG_VERSION").to_owned();
        model.doc_string = doc.to_owned();
        let mut opset = OperatorSetIdProto::new();
        opset.domain = String::new();
        opset.version = OPSET;
        model.opset_import.push(opset);
        for (key, value) in metadata {
            let mut entry = StringStringEntryProto::new();
            entry.key = (*key).to_owned();
            entry.value = value.clone();
            model.metadata_props.push(entry);
        }
        model.graph = Some(self.graph).into();
        let bytes = model.write_to_bytes().context("cannot encode the ONNX model")?;
        std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
    }

    fn tensor(&mut self, hint: &str, element: DataType, dims: &[i64]) -> TensorProto {
        self.counter += 1;
        let mut t = TensorProto::new();
        t.name = format!("{hint}_{}", self.counter);
        t.data_type = element as i32;
        t.dims = dims.to_vec();
        t
    }

    fn push_initializer(&mut self, t: TensorProto) -> String {
        let name = t.name.clone();
        self.graph.initializer.push(t);
        name
    }

    fn node_named(&mut self, op_type: &str, inputs: &[&str], output: &str, attrs: Vec<Attr>) {
        let mut node = node(op_type, inputs, attrs);
        node.output = vec![output.to_owned()];
        self.graph.node.push(node);
    }
}

fn node(op_type: &str, inputs: &[&str], attrs: Vec<Attr>) -> NodeProto {
    let mut node = NodeProto::new();
    node.op_type = op_type.to_owned();
    node.input = inputs.iter().map(|s| (*s).to_owned()).collect();
    node.attribute = attrs.into_iter().map(attribute).collect();
    node
}

fn attribute(attr: Attr) -> AttributeProto {
    let mut a = AttributeProto::new();
    match attr {
        Attr::Int(name, i) => {
            a.name = name.into();
            a.type_ = AttributeType::INT.into();
            a.i = i;
        }
        Attr::Ints(name, ints) => {
            a.name = name.into();
            a.type_ = AttributeType::INTS.into();
            a.ints = ints;
        }
        Attr::Float(name, f) => {
            a.name = name.into();
            a.type_ = AttributeType::FLOAT.into();
            a.f = f;
        }
        Attr::Str(name, s) => {
            a.name = name.into();
            a.type_ = AttributeType::STRING.into();
            a.s = s.as_bytes().to_vec();
        }
    }
    a
}

fn value_info(name: &str, element: DataType, dims: &[Dimension]) -> ValueInfoProto {
    let mut shape = TensorShapeProto::new();
    for d in dims {
        let mut dim = onnx_protobuf::tensor_shape_proto::Dimension::new();
        dim.value = Some(match d {
            Dimension::Fixed(n) => Dim::DimValue(*n),
            Dimension::Named(s) => Dim::DimParam((*s).to_owned()),
        });
        shape.dim.push(dim);
    }
    let mut tensor = type_proto::Tensor::new();
    tensor.elem_type = element as i32;
    tensor.shape = Some(shape).into();
    let mut ty = TypeProto::new();
    ty.value = Some(type_proto::Value::TensorType(tensor));
    let mut info = ValueInfoProto::new();
    info.name = name.to_owned();
    info.type_ = Some(ty).into();
    info
}
