//! Integration tests of the device store through its public API.

mod bootstrap;
mod contacts;
mod dedup;
mod encryption;
mod experience;
mod files;
mod fixes;
mod flow;
#[cfg(feature = "import")]
mod import;
mod input;
mod lease;
mod purge;
mod rejections;
mod scope;
#[cfg(feature = "client")]
mod scope_client;
mod search;
mod visits;

use outpost_core::{NewContact, Store, StoreOptions};

pub(crate) type TestResult = Result<(), Box<dyn std::error::Error>>;

pub(crate) fn open(dir: &tempfile::TempDir) -> Result<Store, outpost_core::Error> {
    Store::open(
        dir.path().join("rep.db"),
        StoreOptions {
            user: "rep1".into(),
            ..Default::default()
        },
    )
}

pub(crate) fn zhang() -> NewContact {
    NewContact {
        name: "张伟".into(),
        company: Some("深圳市华强科技有限公司".into()),
        title: Some("采购经理".into()),
        phones: vec!["138 0013 8000".into()],
        emails: vec![" Zhang.Wei@HuaQiang.COM".into()],
        address: Some("广东省深圳市南山区科技园南区高新南一道".into()),
        ..Default::default()
    }
}
