//! The group member's identity: member id and generation id.
//!
//! librdkafka has both in its consumer group metadata, but rust-rdkafka 0.39
//! keeps that object opaque (`Consumer::group_metadata` has no accessors), so
//! this module reads it through librdkafka's C API. It is the one place in the
//! workspace allowed `unsafe`: three read-only calls on a handle that the
//! borrowed consumer keeps alive, on an object this function owns and frees.
#![allow(unsafe_code)]

use std::ffi::CStr;

use rdkafka::bindings as rdsys;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};

/// Who this member is in its group right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupIdentity {
    /// The member id the coordinator assigned (empty before the first join).
    pub(crate) member_id: String,
    /// The group generation this member joined (-1 before the first join).
    pub(crate) generation_id: i32,
}

/// The member id and generation of `consumer`, or `None` when librdkafka has
/// no group metadata (a consumer without `group.id`).
pub(crate) fn identity<C: ConsumerContext>(consumer: &BaseConsumer<C>) -> Option<GroupIdentity> {
    let handle = consumer.client().native_ptr();
    // SAFETY: `handle` is the live librdkafka handle of `consumer`, which the
    // borrow keeps alive for this whole call. `rd_kafka_consumer_group_metadata`
    // returns a new object owned by the caller (or NULL); the member id string
    // belongs to that object, so it is copied before the object is destroyed,
    // exactly once, below. None of these calls keep a pointer we pass.
    unsafe {
        let metadata = rdsys::rd_kafka_consumer_group_metadata(handle);
        if metadata.is_null() {
            return None;
        }
        let member = rdsys::rd_kafka_consumer_group_metadata_member_id(metadata);
        let member_id = if member.is_null() {
            String::new()
        } else {
            CStr::from_ptr(member).to_string_lossy().into_owned()
        };
        let generation_id = rdsys::rd_kafka_consumer_group_metadata_generation_id(metadata);
        rdsys::rd_kafka_consumer_group_metadata_destroy(metadata);
        Some(GroupIdentity {
            member_id,
            generation_id,
        })
    }
}
