//! What a query plan asks of the models: which of them its calls will run, so that a host can
//! record them (for instance in the footer of the files a `COPY` writes).

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::{Expr, LogicalPlan};

use crate::{ModelSet, Sentiment, SentimentExplain, args};

/// The models that the `sentiment`, `sentiment_label` and `sentiment_explain` calls of `plan` (its
/// subqueries included) run, each named once, in the order the calls appear: a call's model
/// argument, or the set's default model. A call whose model is not a known model's name is left
/// out: planning it fails anyway.
pub fn models_called(plan: &LogicalPlan, models: &dyn ModelSet) -> Vec<String> {
    let mut called: Vec<String> = Vec::new();
    let mut visit = |expr: &Expr| {
        if let Expr::ScalarFunction(call) = expr {
            let function = call.func.inner();
            if function.is::<Sentiment>() || function.is::<SentimentExplain>() {
                let model = match call.args.get(1) {
                    None => None,
                    Some(Expr::Literal(value, _)) => Some(value),
                    Some(_) => return Ok(TreeNodeRecursion::Continue),
                };
                if let Ok(name) = args::model_name(call.func.name(), models, model)
                    && !called.contains(&name)
                {
                    called.push(name);
                }
            }
        }
        Ok(TreeNodeRecursion::Continue)
    };
    // The closures never fail, so neither does the walk.
    let _ = plan.apply_with_subqueries(|node| {
        node.apply_expressions(|expr| expr.apply(&mut visit))?;
        Ok(TreeNodeRecursion::Continue)
    });
    called
}
