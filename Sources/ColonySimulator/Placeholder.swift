import ColonyCore
