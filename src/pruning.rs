//! A model's graph pruned to the outputs a caller reads.
//!
//! ONNX Runtime runs every node of a graph on every call, whichever outputs the call selects.
//! Scoring reads only `probability`, but the recurrent models also compute each word's sub-score,
//! their head run on the state after every word, which is most of a GRU step's arithmetic again
//! (`bench/onnx_ab.py`: the pruned file scores 1.1× to 1.3× as fast). Pruning the graph to
//! `probability` before ONNX Runtime sees it leaves that work out, and changes no node that
//! `probability` depends on.

use std::collections::HashSet;

use anyhow::{Context, Result};
use onnx_protobuf::{Message, ModelProto};

/// The ONNX `model` with only the graph outputs named in `keep`, the nodes that compute them and
/// the initializers those nodes read, serialized; `None` when every node is needed, or when the
/// graph has subgraphs (`If`, `Loop`, `Scan`), whose inner nodes may read any value.
pub fn keep_outputs(mut model: ModelProto, keep: &[&str]) -> Result<Option<Vec<u8>>> {
    let graph = model.graph.mut_or_insert_default();
    if graph.node.iter().flat_map(|node| &node.attribute).any(|a| a.g.is_some() || !a.graphs.is_empty()) {
        return Ok(None);
    }
    graph.output.retain(|output| keep.contains(&output.name.as_str()));
    let mut needed: HashSet<&str> = graph.output.iter().map(|output| output.name.as_str()).collect();
    let mut kept = vec![false; graph.node.len()];
    for (node, kept) in graph.node.iter().zip(&mut kept).rev() {
        if node.output.iter().any(|output| needed.contains(output.as_str())) {
            needed.extend(node.input.iter().map(String::as_str));
            *kept = true;
        }
    }
    if kept.iter().all(|&kept| kept) {
        return Ok(None);
    }
    let needed: HashSet<String> = needed.into_iter().map(str::to_owned).collect();
    let mut kept = kept.into_iter();
    graph.node.retain(|_| kept.next().expect("one flag per node"));
    graph.initializer.retain(|tensor| needed.contains(&tensor.name));
    model.write_to_bytes().map(Some).context("cannot encode the pruned ONNX model")
}

#[cfg(test)]
mod tests {
    use super::*;
    use onnx_protobuf::{GraphProto, NodeProto, TensorProto, ValueInfoProto};

    fn node(op: &str, inputs: &[&str], output: &str) -> NodeProto {
        let mut node = NodeProto::new();
        node.op_type = op.into();
        node.input = inputs.iter().map(|&i| i.to_owned()).collect();
        node.output = vec![output.to_owned()];
        node
    }

    fn value(name: &str) -> ValueInfoProto {
        let mut value = ValueInfoProto::new();
        value.name = name.into();
        value
    }

    fn tensor(name: &str) -> TensorProto {
        let mut tensor = TensorProto::new();
        tensor.name = name.into();
        tensor
    }

    /// `x -> a -> p` and, from `a` with the weight `w`, `a -> s`: `p` needs neither `s` nor `w`.
    fn two_heads() -> ModelProto {
        let mut graph = GraphProto::new();
        graph.node = vec![node("Relu", &["x"], "a"), node("MatMul", &["a", "w"], "s"), node("Sigmoid", &["a"], "p")];
        graph.input = vec![value("x")];
        graph.output = vec![value("p"), value("s")];
        graph.initializer = vec![tensor("w")];
        let mut model = ModelProto::new();
        model.graph = Some(graph).into();
        model
    }

    #[test]
    fn only_what_the_kept_outputs_need_stays() {
        let pruned = keep_outputs(two_heads(), &["p"]).unwrap().expect("a node is left out");
        let graph = ModelProto::parse_from_bytes(&pruned).unwrap().graph.unwrap();
        assert_eq!(graph.output.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), ["p"]);
        assert_eq!(graph.node.iter().map(|n| n.op_type.as_str()).collect::<Vec<_>>(), ["Relu", "Sigmoid"]);
        assert!(graph.initializer.is_empty(), "the weight only the dropped head read is dropped");
        assert_eq!(keep_outputs(two_heads(), &["p", "s"]).unwrap(), None, "every node is needed");
    }

    #[test]
    fn a_graph_with_subgraphs_is_left_whole() {
        let mut model = two_heads();
        let graph = model.graph.mut_or_insert_default();
        let mut branch = onnx_protobuf::AttributeProto::new();
        branch.g = Some(GraphProto::new()).into();
        graph.node[1].attribute.push(branch);
        assert_eq!(keep_outputs(model, &["p"]).unwrap(), None);
    }
}
