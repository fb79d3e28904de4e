//! `POST /api/v1/graphql` and GraphiQL at `/graphiql`.

use actix_web::{web, HttpResponse};
use async_graphql::http::GraphiQLSource;
use async_graphql_actix_web::{GraphQLRequest, GraphQLResponse};

use crate::graphql::LineageSchema;

pub async fn execute(schema: web::Data<LineageSchema>, request: GraphQLRequest) -> GraphQLResponse {
    schema.execute(request.into_inner()).await.into()
}

pub async fn graphiql() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(
            GraphiQLSource::build()
                .endpoint("/api/v1/graphql")
                .title("Tributary GraphiQL")
                .finish(),
        )
}
