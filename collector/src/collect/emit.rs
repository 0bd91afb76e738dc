//! How the native live-response collectors ([`crate::live`]) write into a collection:
//! generated files (at the members `cairn_archive::member::live` names), copies of open files, log records, and the
//! deadline, all through the engine's recorder.

use super::engine::Engine;
use cairn_archive::write::Spool;
use cairn_protocol::{Level, LogEvent};
use std::io;

impl crate::live::Emit for Engine<'_> {
    fn output(&mut self, artifact: &str, member: &str, data: &[u8]) {
        debug_assert!(
            member.starts_with(cairn_archive::member::LIVE_DIR),
            "{member}"
        );
        self.rec.output(artifact, member.as_bytes(), data);
    }

    fn output_spool(&mut self, artifact: &str, member: &str, spool: &mut Spool) {
        debug_assert!(
            member.starts_with(cairn_archive::member::LIVE_DIR),
            "{member}"
        );
        self.rec.output_spool(artifact, member.as_bytes(), spool);
    }

    fn copy(
        &mut self,
        artifact: &str,
        member: &[u8],
        source: &[u8],
        file: &mut std::fs::File,
        cap: u64,
    ) -> io::Result<crate::live::Copied> {
        self.copy_open(artifact, member, source, file, cap)
    }

    fn output_stream(
        &mut self,
        artifact: &str,
        member: &str,
        size: u64,
        src: &mut dyn io::Read,
    ) -> io::Result<crate::live::Copied> {
        debug_assert!(
            member.starts_with(cairn_archive::member::LIVE_DIR),
            "{member}"
        );
        let deadline = self.deadline;
        let stop = move || deadline.is_some_and(|d| std::time::Instant::now() >= d);
        let copied = self
            .rec
            .output_stream(artifact, member.as_bytes(), size, src, &stop)
            .ok_or_else(|| io::Error::other("the archive could not be written"))?;
        if !copied.complete {
            self.expired();
        }
        Ok(copied)
    }

    fn log(
        &mut self,
        level: Level,
        event: LogEvent,
        artifact: &str,
        path: Option<&[u8]>,
        message: String,
    ) {
        self.rec.log(level, event, Some(artifact), path, message);
    }

    fn expired(&mut self) -> bool {
        Engine::expired(self)
    }

    fn yara_hits(&mut self, lines: &[u8]) {
        self.yara_hits.extend_from_slice(lines);
    }

    fn count_denied(&mut self, items: u64) {
        self.rec.counts.live_denied += items;
    }
}
