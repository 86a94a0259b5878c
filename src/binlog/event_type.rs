//! Event type codes of both flavours, and the part each plays in transaction units.
//!
//! Codes 0–42 are MySQL's (`Log_event_type` in MySQL's `libbinlogevents/include/binlog_event.h`),
//! 160–172 MariaDB's (`sql/log_event.h` in MariaDB). The header keeps the raw byte; an unknown
//! code is not an error but a [`UnknownEventType`] the reader skips.

use std::fmt;

/// A known event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EventType {
    Unknown = 0,
    StartV3 = 1,
    Query = 2,
    Stop = 3,
    Rotate = 4,
    Intvar = 5,
    Load = 6,
    Slave = 7,
    CreateFile = 8,
    AppendBlock = 9,
    ExecLoad = 10,
    DeleteFile = 11,
    NewLoad = 12,
    Rand = 13,
    UserVar = 14,
    FormatDescription = 15,
    Xid = 16,
    BeginLoadQuery = 17,
    ExecuteLoadQuery = 18,
    TableMap = 19,
    PreGaWriteRows = 20,
    PreGaUpdateRows = 21,
    PreGaDeleteRows = 22,
    WriteRowsV1 = 23,
    UpdateRowsV1 = 24,
    DeleteRowsV1 = 25,
    Incident = 26,
    Heartbeat = 27,
    Ignorable = 28,
    RowsQuery = 29,
    WriteRows = 30,
    UpdateRows = 31,
    DeleteRows = 32,
    Gtid = 33,
    AnonymousGtid = 34,
    PreviousGtids = 35,
    TransactionContext = 36,
    ViewChange = 37,
    XaPrepare = 38,
    PartialUpdateRows = 39,
    TransactionPayload = 40,
    HeartbeatV2 = 41,
    GtidTagged = 42,
    MariaAnnotateRows = 160,
    MariaBinlogCheckpoint = 161,
    MariaGtid = 162,
    MariaGtidList = 163,
    MariaStartEncryption = 164,
    MariaQueryCompressed = 165,
    MariaWriteRowsCompressedV1 = 166,
    MariaUpdateRowsCompressedV1 = 167,
    MariaDeleteRowsCompressedV1 = 168,
    MariaWriteRowsCompressed = 169,
    MariaUpdateRowsCompressed = 170,
    MariaDeleteRowsCompressed = 171,
    /// A fragment of a rows event too large for one event (MariaDB 11.x).
    MariaPartialRowData = 172,
}

/// An event type code this build does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type {0}")]
pub struct UnknownEventType(pub u8);

/// Every known type at its code; built at compile time so a lookup is one load.
static BY_CODE: [Option<EventType>; 256] = {
    use EventType::*;
    const KNOWN: [EventType; 56] = [
        Unknown,
        StartV3,
        Query,
        Stop,
        Rotate,
        Intvar,
        Load,
        Slave,
        CreateFile,
        AppendBlock,
        ExecLoad,
        DeleteFile,
        NewLoad,
        Rand,
        UserVar,
        FormatDescription,
        Xid,
        BeginLoadQuery,
        ExecuteLoadQuery,
        TableMap,
        PreGaWriteRows,
        PreGaUpdateRows,
        PreGaDeleteRows,
        WriteRowsV1,
        UpdateRowsV1,
        DeleteRowsV1,
        Incident,
        Heartbeat,
        Ignorable,
        RowsQuery,
        WriteRows,
        UpdateRows,
        DeleteRows,
        Gtid,
        AnonymousGtid,
        PreviousGtids,
        TransactionContext,
        ViewChange,
        XaPrepare,
        PartialUpdateRows,
        TransactionPayload,
        HeartbeatV2,
        GtidTagged,
        MariaAnnotateRows,
        MariaBinlogCheckpoint,
        MariaGtid,
        MariaGtidList,
        MariaStartEncryption,
        MariaQueryCompressed,
        MariaWriteRowsCompressedV1,
        MariaUpdateRowsCompressedV1,
        MariaDeleteRowsCompressedV1,
        MariaWriteRowsCompressed,
        MariaUpdateRowsCompressed,
        MariaDeleteRowsCompressed,
        MariaPartialRowData,
    ];
    let mut table = [None; 256];
    let mut i = 0;
    while i < KNOWN.len() {
        table[KNOWN[i] as usize] = Some(KNOWN[i]);
        i += 1;
    }
    table
};

impl TryFrom<u8> for EventType {
    type Error = UnknownEventType;

    #[inline]
    fn try_from(code: u8) -> Result<EventType, UnknownEventType> {
        BY_CODE[usize::from(code)].ok_or(UnknownEventType(code))
    }
}

/// What an event means for transaction units (SEMANTICS.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitRole {
    /// Never starts or ends a unit: FDE, PREVIOUS_GTIDS, GTID_LIST, ROTATE, STOP, checkpoints,
    /// heartbeats, incidents, ignorable events.
    Outside,
    /// GTID, ANONYMOUS_GTID, GTID_TAGGED, MariaDB GTID: always starts a unit.
    Gtid,
    /// QUERY (and QUERY_COMPRESSED): BEGIN, COMMIT, ROLLBACK, XA …, or a statement.
    Query,
    /// A statement that is never BEGIN/COMMIT: LOAD DATA events of every generation.
    Statement,
    /// A part of a statement that may start a unit but never ends one: INTVAR, RAND, USER_VAR,
    /// TABLE_MAP, ROWS_QUERY, ANNOTATE_ROWS, load-file blocks, group-replication context.
    StatementPart,
    /// A rows event: ends a unit when it carries STMT_END_F outside a transaction.
    Rows,
    /// XID: commits a transaction.
    Xid,
    /// XA_PREPARE: ends the first part of an XA transaction.
    XaPrepare,
    /// TRANSACTION_PAYLOAD: a whole compressed transaction body, so it ends the unit.
    TransactionPayload,
}

impl EventType {
    /// A MySQL GTID event (`GTID`, `ANONYMOUS_GTID`, `GTID_TAGGED`): what starts a MySQL
    /// transaction and carries its GTID, commit times and length.
    pub fn is_mysql_gtid(self) -> bool {
        matches!(
            self,
            EventType::Gtid | EventType::AnonymousGtid | EventType::GtidTagged
        )
    }

    pub fn role(self) -> UnitRole {
        use EventType::*;
        match self {
            Gtid | AnonymousGtid | GtidTagged | MariaGtid => UnitRole::Gtid,
            Query | MariaQueryCompressed => UnitRole::Query,
            Load | NewLoad | ExecLoad | ExecuteLoadQuery => UnitRole::Statement,
            Intvar | Rand | UserVar | TableMap | RowsQuery | MariaAnnotateRows | CreateFile
            | AppendBlock | DeleteFile | BeginLoadQuery | TransactionContext | ViewChange
            | MariaPartialRowData => UnitRole::StatementPart,
            PreGaWriteRows
            | PreGaUpdateRows
            | PreGaDeleteRows
            | WriteRowsV1
            | UpdateRowsV1
            | DeleteRowsV1
            | WriteRows
            | UpdateRows
            | DeleteRows
            | PartialUpdateRows
            | MariaWriteRowsCompressedV1
            | MariaUpdateRowsCompressedV1
            | MariaDeleteRowsCompressedV1
            | MariaWriteRowsCompressed
            | MariaUpdateRowsCompressed
            | MariaDeleteRowsCompressed => UnitRole::Rows,
            Xid => UnitRole::Xid,
            XaPrepare => UnitRole::XaPrepare,
            TransactionPayload => UnitRole::TransactionPayload,
            Unknown
            | StartV3
            | Stop
            | Rotate
            | Slave
            | FormatDescription
            | Incident
            | Heartbeat
            | Ignorable
            | PreviousGtids
            | HeartbeatV2
            | MariaBinlogCheckpoint
            | MariaGtidList
            | MariaStartEncryption => UnitRole::Outside,
        }
    }

    /// The name MySQL/MariaDB use, for messages.
    pub fn name(self) -> &'static str {
        use EventType::*;
        match self {
            Unknown => "UNKNOWN_EVENT",
            StartV3 => "START_EVENT_V3",
            Query => "QUERY_EVENT",
            Stop => "STOP_EVENT",
            Rotate => "ROTATE_EVENT",
            Intvar => "INTVAR_EVENT",
            Load => "LOAD_EVENT",
            Slave => "SLAVE_EVENT",
            CreateFile => "CREATE_FILE_EVENT",
            AppendBlock => "APPEND_BLOCK_EVENT",
            ExecLoad => "EXEC_LOAD_EVENT",
            DeleteFile => "DELETE_FILE_EVENT",
            NewLoad => "NEW_LOAD_EVENT",
            Rand => "RAND_EVENT",
            UserVar => "USER_VAR_EVENT",
            FormatDescription => "FORMAT_DESCRIPTION_EVENT",
            Xid => "XID_EVENT",
            BeginLoadQuery => "BEGIN_LOAD_QUERY_EVENT",
            ExecuteLoadQuery => "EXECUTE_LOAD_QUERY_EVENT",
            TableMap => "TABLE_MAP_EVENT",
            PreGaWriteRows => "PRE_GA_WRITE_ROWS_EVENT",
            PreGaUpdateRows => "PRE_GA_UPDATE_ROWS_EVENT",
            PreGaDeleteRows => "PRE_GA_DELETE_ROWS_EVENT",
            WriteRowsV1 => "WRITE_ROWS_EVENT_V1",
            UpdateRowsV1 => "UPDATE_ROWS_EVENT_V1",
            DeleteRowsV1 => "DELETE_ROWS_EVENT_V1",
            Incident => "INCIDENT_EVENT",
            Heartbeat => "HEARTBEAT_LOG_EVENT",
            Ignorable => "IGNORABLE_LOG_EVENT",
            RowsQuery => "ROWS_QUERY_LOG_EVENT",
            WriteRows => "WRITE_ROWS_EVENT",
            UpdateRows => "UPDATE_ROWS_EVENT",
            DeleteRows => "DELETE_ROWS_EVENT",
            Gtid => "GTID_LOG_EVENT",
            AnonymousGtid => "ANONYMOUS_GTID_LOG_EVENT",
            PreviousGtids => "PREVIOUS_GTIDS_LOG_EVENT",
            TransactionContext => "TRANSACTION_CONTEXT_EVENT",
            ViewChange => "VIEW_CHANGE_EVENT",
            XaPrepare => "XA_PREPARE_LOG_EVENT",
            PartialUpdateRows => "PARTIAL_UPDATE_ROWS_EVENT",
            TransactionPayload => "TRANSACTION_PAYLOAD_EVENT",
            HeartbeatV2 => "HEARTBEAT_LOG_EVENT_V2",
            GtidTagged => "GTID_TAGGED_LOG_EVENT",
            MariaAnnotateRows => "ANNOTATE_ROWS_EVENT",
            MariaBinlogCheckpoint => "BINLOG_CHECKPOINT_EVENT",
            MariaGtid => "GTID_EVENT",
            MariaGtidList => "GTID_LIST_EVENT",
            MariaStartEncryption => "START_ENCRYPTION_EVENT",
            MariaQueryCompressed => "QUERY_COMPRESSED_EVENT",
            MariaWriteRowsCompressedV1 => "WRITE_ROWS_COMPRESSED_EVENT_V1",
            MariaUpdateRowsCompressedV1 => "UPDATE_ROWS_COMPRESSED_EVENT_V1",
            MariaDeleteRowsCompressedV1 => "DELETE_ROWS_COMPRESSED_EVENT_V1",
            MariaWriteRowsCompressed => "WRITE_ROWS_COMPRESSED_EVENT",
            MariaUpdateRowsCompressed => "UPDATE_ROWS_COMPRESSED_EVENT",
            MariaDeleteRowsCompressed => "DELETE_ROWS_COMPRESSED_EVENT",
            MariaPartialRowData => "PARTIAL_ROW_DATA_EVENT",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A type code for messages: the name when known, else the number.
pub(crate) fn type_name(code: u8) -> String {
    EventType::try_from(code)
        .map(|t| t.name().to_owned())
        .unwrap_or_else(|_| format!("event type {code}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in 0..=255u8 {
            if let Ok(t) = EventType::try_from(code) {
                assert_eq!(t as u8, code, "{t}");
            }
        }
        assert_eq!(EventType::try_from(43), Err(UnknownEventType(43)));
        assert_eq!(EventType::try_from(100), Err(UnknownEventType(100)));
        assert_eq!(EventType::try_from(173), Err(UnknownEventType(173)));
    }
}
