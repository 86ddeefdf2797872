import sitq
import pandas as pd
from typing import List, Dict, Any, Tuple
import time

class DataQualityMonitor:
    """Data quality monitoring with sitq."""
    
    def __init__(self):
        self.backend = sitq.SQLiteBackend("quality_monitoring.db")
        self.queue = sitq.TaskQueue(backend=self.backend)
        self.worker = sitq.Worker(self.queue)
        self.quality_metrics = []
    
    def check_completeness(self, data: List[Dict], required_fields: List[str]) -> Dict[str, Any]:
        """Check data completeness."""
        print("Checking data completeness...")
        
        total_records = len(data)
        field_completeness = {}
        
        for field in required_fields:
            complete_count = sum(1 for record in data if field in record and record[field] is not None)
            field_completeness[field] = {
                "complete_count": complete_count,
                "completeness_rate": complete_count / total_records if total_records > 0 else 0
            }
        
        overall_completeness = sum(info["completeness_rate"] for info in field_completeness.values()) / len(field_completeness)
        
        return {
            "total_records": total_records,
            "field_completeness": field_completeness,
            "overall_completeness": overall_completeness,
            "passed": overall_completeness >= 0.95
        }
    
    def check_accuracy(self, data: List[Dict]) -> Dict[str, Any]:
        """Check data accuracy."""
        print("Checking data accuracy...")
        
        accuracy_issues = []
        
        for i, record in enumerate(data):
            # Check for negative IDs
            if "id" in record and record["id"] < 0:
                accuracy_issues.append({
                    "record_index": i,
                    "issue": "Negative ID",
                    "value": record["id"]
                })
            
            # Check for invalid categories
            if "category" in record and record["category"] not in ["A", "B", "C"]:
                accuracy_issues.append({
                    "record_index": i,
                    "issue": "Invalid category",
                    "value": record["category"]
                })
        
        accuracy_rate = 1 - (len(accuracy_issues) / len(data)) if data else 1
        
        return {
            "total_records": len(data),
            "accuracy_issues": accuracy_issues,
            "accuracy_rate": accuracy_rate,
            "passed": accuracy_rate >= 0.98
        }
    
    def check_consistency(self, data: List[Dict]) -> Dict[str, Any]:
        """Check data consistency."""
        print("Checking data consistency...")
        
        consistency_issues = []
        
        # Check for duplicate IDs
        ids = [record.get("id") for record in data if "id" in record]
        duplicate_ids = [id for id in set(ids) if ids.count(id) > 1]
        
        for dup_id in duplicate_ids:
            consistency_issues.append({
                "issue": "Duplicate ID",
                "value": dup_id,
                "count": ids.count(dup_id)
            })
        
        # Check for inconsistent timestamps
        timestamps = [record.get("timestamp") for record in data if "timestamp" in record]
        if timestamps:
            if max(timestamps) < min(timestamps):
                consistency_issues.append({
                    "issue": "Inconsistent timestamps",
                    "description": "Max timestamp is before min timestamp"
                })
        
        consistency_rate = 1 - (len(consistency_issues) / len(data)) if data else 1
        
        return {
            "total_records": len(data),
            "consistency_issues": consistency_issues,
            "consistency_rate": consistency_rate,
            "passed": consistency_rate >= 0.99
        }
    
    def run_quality_checks(self, data: List[Dict]) -> Dict[str, Any]:
        """Run all quality checks."""
        print("Running data quality checks...")
        
        required_fields = ["id", "value", "category", "timestamp"]
        
        # Run all checks
        completeness_task = sitq.Task(
            function=self.check_completeness,
            args=[data, required_fields]
        )
        completeness_id = self.queue.enqueue(completeness_task)
        completeness_result = self.worker.process_task(completeness_id)
        
        accuracy_task = sitq.Task(
            function=self.check_accuracy,
            args=[data]
        )
        accuracy_id = self.queue.enqueue(accuracy_task)
        accuracy_result = self.worker.process_task(accuracy_id)
        
        consistency_task = sitq.Task(
            function=self.check_consistency,
            args=[data]
        )
        consistency_id = self.queue.enqueue(consistency_task)
        consistency_result = self.worker.process_task(consistency_id)
        
        # Combine results
        overall_quality = {
            "completeness": completeness_result.value,
            "accuracy": accuracy_result.value,
            "consistency": consistency_result.value,
            "overall_score": (
                completeness_result.value["overall_completeness"] * 0.4 +
                accuracy_result.value["accuracy_rate"] * 0.3 +
                consistency_result.value["consistency_rate"] * 0.3
            ),
            "passed_all": (
                completeness_result.value["passed"] and
                accuracy_result.value["passed"] and
                consistency_result.value["passed"]
            ),
            "checked_at": time.time()
        }
        
        # Store quality metrics
        self.quality_metrics.append(overall_quality)
        
        return overall_quality
    
    def generate_quality_report(self) -> Dict[str, Any]:
        """Generate quality monitoring report."""
        if not self.quality_metrics:
            return {"message": "No quality metrics available"}
        
        latest = self.quality_metrics[-1]
        
        # Calculate trends
        if len(self.quality_metrics) > 1:
            previous = self.quality_metrics[-2]
            trend = {
                "completeness_change": latest["completeness"]["overall_completeness"] - previous["completeness"]["overall_completeness"],
                "accuracy_change": latest["accuracy"]["accuracy_rate"] - previous["accuracy"]["accuracy_rate"],
                "consistency_change": latest["consistency"]["consistency_rate"] - previous["consistency"]["consistency_rate"],
                "overall_change": latest["overall_score"] - previous["overall_score"]
            }
        else:
            trend = {}
        
        return {
            "latest_check": latest,
            "trend": trend,
            "total_checks": len(self.quality_metrics),
            "average_quality": sum(m["overall_score"] for m in self.quality_metrics) / len(self.quality_metrics)
        }

# Use quality monitor
monitor = DataQualityMonitor()

# Generate test data with quality issues
test_data = [
    {"id": i, "value": i * 0.1, "category": "A", "timestamp": time.time() + i}
    for i in range(50)
] + [
    {"id": i, "value": i * 0.1}  # Missing category and timestamp
    for i in range(50, 70)
] + [
    {"id": 25, "value": -5, "category": "X", "timestamp": time.time()}  # Duplicate ID, invalid category
]

# Run quality checks
quality_result = monitor.run_quality_checks(test_data)
print(f"Quality check completed: {quality_result['passed_all']}")

# Generate report
report = monitor.generate_quality_report()
print(f"Quality report: Overall score = {report['latest_check']['overall_score']:.2f}")
